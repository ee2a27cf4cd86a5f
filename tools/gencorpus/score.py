#!/usr/bin/python3
"""Outcome accuracy of `guichet check --json` against a corpus's truth.json.

    guichet check --json DIR/*.pdf > check.json
    /usr/bin/python3 tools/gencorpus/score.py DIR/truth.json check.json

Prints, per flaw and per way of production (the part of `produced_by`
before the first '+'), how many files got the expected outcome and reasons
(`review` counts as right where `review_ok` says so), then every miss. A
flawed form that comes out `queued` is the worst miss: it is counted apart.
"""

import collections
import json
import os
import sys


def right(truth, got):
    if got.get("outcome") == truth["outcome"] and sorted(got.get("reasons", [])) == sorted(truth["reasons"]):
        return True
    return truth["review_ok"] and got.get("outcome") == "review"


def main(truth_path, check_path):
    with open(truth_path, encoding="utf-8") as fh:
        truth = {e["file"]: e for e in json.load(fh)}
    with open(check_path, encoding="utf-8") as fh:
        checked = json.load(fh)
    if isinstance(checked, dict):
        checked = [checked]
    tallies = {"flaw": collections.defaultdict(lambda: [0, 0]), "production": collections.defaultdict(lambda: [0, 0])}
    misses, flawed_queued = [], 0
    for got in checked:
        expected = truth.get(os.path.basename(got.get("file", "")))
        if expected is None:
            continue
        ok = right(expected, got)
        for table, key in (("flaw", expected["flaw"]), ("production", expected["produced_by"].split("+")[0])):
            tallies[table][key][0] += ok
            tallies[table][key][1] += 1
        if not ok:
            misses.append(f"  {expected['file']} [{expected['flaw']}, {expected['produced_by']}]: "
                          f"{got.get('outcome')} {got.get('reasons')} (truth {expected['outcome']} {expected['reasons']})")
        if expected["flaw"] != "none" and got.get("outcome") == "queued":
            flawed_queued += 1
    for table, rows in tallies.items():
        print(f"-- outcome by {table}")
        for key in sorted(rows):
            good, total = rows[key]
            print(f"{key:<36}{good:>4}/{total:<4}{100 * good / total:6.1f}%")
    good = sum(g for g, _ in tallies["flaw"].values())
    total = sum(t for _, t in tallies["flaw"].values())
    print(f"{'TOTAL':<36}{good:>4}/{total:<4}{100 * good / max(total, 1):6.1f}%")
    print(f"flawed forms that came out queued: {flawed_queued}")
    print(f"{len(misses)} misses")
    print("\n".join(misses))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
