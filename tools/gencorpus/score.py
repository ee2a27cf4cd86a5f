#!/usr/bin/python3
"""The reader's accuracy on a generated corpus: `guichet check --json` against
the corpus's truth.json, as Markdown tables.

    guichet check --json DIR/*.pdf > check.json
    /usr/bin/python3 tools/gencorpus/score.py DIR/truth.json check.json

One table per way of production (the family before the first '/', then the
ways a form may share: handwriting, a text layer, one with OCR slips, a
photo cut through its margins only, each scan resolution) and one per flaw.
Columns:

- outcome: the expected outcome (`review` counts where `review_ok` allows);
  outcome+reasons: the same with exactly the expected reasons.
- fields: the truth's values read exactly, over forms that are one form and
  not `incomplete_scan` (a page cut off or too dark has fields no one can read).
- flawed queued: the truth is `correction` or `rejected` and the answer is
  `queued`. Must be 0.
- fine asked to correct: the truth is `queued` or `review` and the answer is
  `correction` or `rejected`. Goal 0.
- wrong not flagged: field values reported that differ from the truth on a
  form that was not sent to `review` and whose field is not `illegible:`.
  Goal 0.

A file the check left without an answer counts as wrong everywhere.
"""

import collections
import json
import os
import re
import sys

COLUMNS = ["forms", "outcome", "outcome+reasons", "fields", "flawed queued",
           "fine asked to correct", "wrong not flagged"]


def right(truth, got, with_reasons):
    """The expected outcome (and reasons); `review` where `review_ok` allows it."""
    if truth["review_ok"] and got.get("outcome") == "review":
        return True
    same_reasons = sorted(got.get("reasons", [])) == sorted(truth["reasons"])
    return got.get("outcome") == truth["outcome"] and (same_reasons or not with_reasons)


def ways(produced_by):
    """The rows of the production table a form belongs to."""
    family = produced_by.split("+")[0].split("/")[0]
    out = [family]
    tags = produced_by.split("+")[1:]
    if "hand" in tags:
        out.append("handwriting (+hand)")
    if "ocrlayer" in tags:
        out.append("text layer (+ocrlayer)")
    if "slips" in tags:
        out.append("text layer with OCR slips (+slips)")
    if family == "photo" and {"margincut", "onesquare"} & set(tags) and "cut" not in tags:
        out.append("photo cut in its margins only")
    dpi = re.search(r"/(\d+)dpi", produced_by)
    if family.startswith("scan") and dpi:
        out.append(f"scan {int(dpi.group(1)):3d} dpi")
    return out


def field_checks(truth, got):
    """(values right, values expected, wrong values not flagged) of one form."""
    read = got.get("fields") or {}
    illegible = {r.split(":", 1)[1] for r in got.get("reasons", []) if r.startswith("illegible:")}
    flagged_form = got.get("outcome") == "review"
    wrong = [
        fid for fid, entry in read.items()
        if fid in truth["fields"] and _value(entry) != truth["fields"][fid]
        and not flagged_form and fid not in illegible
    ]
    counted = truth["forms"] == 1 and "incomplete_scan" not in truth["reasons"]
    if not counted:
        return 0, 0, wrong
    good = sum(_value(read.get(fid)) == value for fid, value in truth["fields"].items())
    return good, len(truth["fields"]), wrong


def _value(entry):
    return entry.get("value") if isinstance(entry, dict) else entry


def main(truth_path, check_path):
    with open(truth_path, encoding="utf-8") as fh:
        truths = json.load(fh)
    with open(check_path, encoding="utf-8") as fh:
        checked = json.load(fh)
    if isinstance(checked, dict):
        checked = [checked]
    answers = {os.path.basename(g.get("file", "")): g for g in checked}
    # key -> [forms, outcome, both, fields good, fields total, flawed queued, fine corrected, wrong]
    tables = {"production": collections.defaultdict(lambda: [0] * 8), "flaw": collections.defaultdict(lambda: [0] * 8)}
    misses, wrongs = [], []
    for truth in truths:
        got = answers.get(truth["file"], {"outcome": None, "reasons": ["(no answer)"]})
        good, total, wrong = field_checks(truth, got)
        row = [
            1,
            right(truth, got, with_reasons=False),
            right(truth, got, with_reasons=True),
            good,
            total,
            truth["outcome"] in ("correction", "rejected") and got.get("outcome") == "queued",
            truth["outcome"] in ("queued", "review") and got.get("outcome") in ("correction", "rejected"),
            len(wrong),
        ]
        for key in ways(truth["produced_by"]):
            _add(tables["production"][key], row)
        _add(tables["flaw"][truth["flaw"]], row)
        _add(tables["production"]["TOTAL"], row)
        where = f"{truth['file']} [{truth['flaw']}, {truth['produced_by']}]"
        if not row[2]:
            misses.append(f"- {where}: {got.get('outcome')} {got.get('reasons')} "
                          f"(truth {truth['outcome']} {truth['reasons']})")
        for fid in wrong:
            wrongs.append(f"- {where}: `{fid}` read {_value(got['fields'][fid])!r}, "
                          f"written {truth['fields'][fid]!r} ({got.get('outcome')})")
    for name, rows in tables.items():
        print(f"### By {name}\n")
        print("| " + " | ".join([name, *COLUMNS]) + " |")
        print("|" + "---|" * (len(COLUMNS) + 1))
        for key in sorted(rows, key=lambda k: (k == "TOTAL", k)):
            print(_line(key, rows[key]))
        print()
    total = tables["production"]["TOTAL"]
    print(f"**{total[5]} flawed forms queued, {total[6]} fine forms asked to correct, "
          f"{total[7]} wrong values not flagged** over {total[0]} forms.\n")
    print(f"### Outcome or reasons missed ({len(misses)})\n")
    print("\n".join(misses) or "none")
    print(f"\n### Wrong values not flagged ({len(wrongs)})\n")
    print("\n".join(wrongs) or "none")


def _add(row, values):
    for i, v in enumerate(values):
        row[i] += int(v)


def _line(key, row):
    forms, outcome, both, good, total, queued, corrected, wrong = row
    pct = lambda n, d: f"{n}/{d} ({100 * n / d:.1f} %)" if d else "–"  # noqa: E731
    return f"| {key} | {forms} | {pct(outcome, forms)} | {pct(both, forms)} | {pct(good, total)} | {queued} | {corrected} | {wrong} |"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
