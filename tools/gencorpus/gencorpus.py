#!/usr/bin/python3
"""Synthetic DA-100 corpus: filled, flawed, printed-and-scanned forms with
their truth, in the format of the shared corpus's truth.json.

    /usr/bin/python3 tools/gencorpus/gencorpus.py --seed N --count K --out DIR

Runs on Debian's python3 with python3-reportlab, python3-pypdf, python3-pil
and python3-numpy, and the command-line tools pdftoppm, /usr/bin/convert,
img2pdf, tiffcp and tiff2pdf. Form i depends only on (seed, i), so a corpus
of K forms is the first K forms of any larger one with the same seed.
"""

import argparse
import json
import os
import random
import sys
import tempfile

import flaws
import form
import render
import scan
import truth

PRODUCTIONS = {"scan": 78, "digital": 12, "acroform": 10}


def form_dir(explicit):
    """The official blank form and layout: --form-dir, else the copies this
    repository ships in `data/da-100`."""
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "data", "da-100")


def one(seed, index, args, layout, blank):
    """File name, PDF bytes and truth entry of form `index`."""
    rng = random.Random(f"{seed}:{index}")
    flaw = flaws.pick(rng, args.flaws)
    choices = [p for p in PRODUCTIONS if args.production in ("any", p)]
    production = rng.choices(choices, [PRODUCTIONS[p] for p in choices])[0]
    if flaw == "multi_form" and production == "acroform":
        production = "digital"  # two AcroForms in one file would share field names
    filled = form.complete(rng)
    reasons = flaws.apply(rng, flaw, filled)
    style = render.Style(rng)
    if args.truth_only:
        name = f"form-{index:04d}.pdf"
        return name, None, truth.entry(name, flaw, reasons, filled, production, False)
    pasted = production != "scan"
    acro = production == "acroform"
    pdf = render.filled(rng, filled, layout, blank, style, acro=acro, allow_pasted=pasted)
    if flaw == "multi_form":
        other = render.filled(rng, form.complete(rng), layout, blank, render.Style(rng), allow_pasted=pasted)
        pdf = render.concatenate([pdf, other])
    review_ok = False
    if production == "scan":
        sheets = 4 if flaw == "multi_form" else 2
        plan = scan.Plan(rng, sheets, dpi=args.dpi, wrapper=args.wrapper)
        plan.duplex = plan.duplex and not args.simplex
        with tempfile.TemporaryDirectory(prefix="gencorpus-") as work:
            pdf = scan.scan(pdf, plan, layout, filled.fields, work)
        produced_by = plan.label()
        review_ok = plan.degraded()
    elif production == "digital" and style.pasted_signature:
        produced_by = "digital+sigimage"
    else:
        produced_by = production
    name = f"form-{index:04d}.pdf"
    return name, pdf, truth.entry(name, flaw, reasons, filled, produced_by, review_ok)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--form-dir", help="folder with blank.pdf and layout.json")
    parser.add_argument("--flaws", type=lambda s: set(s.split(",")), help="only these flaws, comma-separated")
    parser.add_argument("--production", choices=["any", *PRODUCTIONS], default="any")
    parser.add_argument("--dpi", type=int, choices=[150, 200, 300, 600], help="scan resolution")
    parser.add_argument("--wrapper", choices=list(scan.WRAPPERS), help="scan PDF writer")
    parser.add_argument("--simplex", action="store_true", help="no blank duplex backs")
    parser.add_argument(
        "--truth-only",
        action="store_true",
        help="write truth.json only (same people, flaws and reasons; no PDF rendered)",
    )
    args = parser.parse_args(argv)
    if args.flaws:
        unknown = args.flaws - set(flaws.WEIGHTS)
        if unknown:
            parser.error(f"unknown flaw(s): {', '.join(sorted(unknown))}")
    if not 0 < args.count <= 10_000:
        parser.error("--count must be between 1 and 10000")

    where = form_dir(args.form_dir)
    with open(os.path.join(where, "layout.json"), encoding="utf-8") as fh:
        layout = json.load(fh)
    blank = os.path.join(where, "blank.pdf")
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for index in range(args.count):
        name, pdf, entry = one(args.seed, index, args, layout, blank)
        entries.append(entry)
        if pdf is None:
            continue
        with open(os.path.join(args.out, name), "wb") as fh:
            fh.write(pdf)
        print(f"{name} {entry['flaw']} {entry['produced_by']} {len(pdf)} bytes", file=sys.stderr)
    with open(os.path.join(args.out, "truth.json"), "w", encoding="utf-8") as fh:
        json.dump(entries, fh, ensure_ascii=False, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
