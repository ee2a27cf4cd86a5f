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


def right(truth, got, with_reasons):
    """The expected outcome (and reasons); `review` where `review_ok` allows it."""
    if truth["review_ok"] and got.get("outcome") == "review":
        return True
    same_reasons = sorted(got.get("reasons", [])) == sorted(truth["reasons"])
    return got.get("outcome") == truth["outcome"] and (same_reasons or not with_reasons)


def main(truth_path, check_path):
    with open(truth_path, encoding="utf-8") as fh:
        truth = {e["file"]: e for e in json.load(fh)}
    with open(check_path, encoding="utf-8") as fh:
        checked = json.load(fh)
    if isinstance(checked, dict):
        checked = [checked]
    # per key: [outcome right, outcome and reasons right, files]
    tallies = {"flaw": collections.defaultdict(lambda: [0, 0, 0]), "production": collections.defaultdict(lambda: [0, 0, 0])}
    misses, flawed_queued = [], 0
    for got in checked:
        expected = truth.get(os.path.basename(got.get("file", "")))
        if expected is None:
            continue
        ok = right(expected, got, with_reasons=True)
        for table, key in (("flaw", expected["flaw"]), ("production", expected["produced_by"].split("+")[0])):
            row = tallies[table][key]
            row[0] += right(expected, got, with_reasons=False)
            row[1] += ok
            row[2] += 1
        if not ok:
            misses.append(f"  {expected['file']} [{expected['flaw']}, {expected['produced_by']}]: "
                          f"{got.get('outcome')} {got.get('reasons')} (truth {expected['outcome']} {expected['reasons']})")
        if expected["flaw"] != "none" and got.get("outcome") == "queued":
            flawed_queued += 1
    line = "{:<34}{:>14}{:>20}"
    cell = lambda n, d: f"{n}/{d} {100 * n / max(d, 1):5.1f}%"  # noqa: E731
    for table, rows in tallies.items():
        print(line.format(f"-- by {table}", "outcome", "outcome+reasons"))
        for key in sorted(rows):
            outcome, both, total = rows[key]
            print(line.format(key, cell(outcome, total), cell(both, total)))
    sums = [sum(row[i] for row in tallies["flaw"].values()) for i in range(3)]
    print(line.format("TOTAL", cell(sums[0], sums[2]), cell(sums[1], sums[2])))
    print(f"flawed forms that came out queued: {flawed_queued}")
    print(f"{len(misses)} misses")
    print("\n".join(misses))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
