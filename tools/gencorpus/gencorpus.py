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
import hand
import photo
import render
import scan
import truth

PRODUCTIONS = {"scan": 78, "digital": 12, "acroform": 10}
# `--mix hard`: what a new population of applicants sends (phone photos,
# handwriting, scanner text layers, 150-600 dpi) with a share of plain scans.
HARD_PRODUCTIONS = {"photo": 40, "scan": 46, "digital": 8, "acroform": 6}
MIXES = {"default": (flaws.WEIGHTS, PRODUCTIONS), "hard": (flaws.HARD_WEIGHTS, HARD_PRODUCTIONS)}


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
    weights, productions = MIXES[args.mix]
    flaw = flaws.pick(rng, args.flaws, weights)
    choices = [p for p in productions if args.production in ("any", p)]
    if not choices:
        raise SystemExit(f"--production {args.production} is not in the {args.mix} mix")
    production = rng.choices(choices, [productions[p] for p in choices])[0]
    if flaw == "multi_form" and production == "acroform":
        production = "digital"  # two AcroForms in one file would share field names
    if flaw in flaws.PHOTO_FLAWS:
        production = "photo"  # only a phone cuts a field off or sees a page that dark
    filled = form.complete(rng)
    reasons = flaws.apply(rng, flaw, filled)
    style = render.Style(rng)
    if args.truth_only:
        name = f"form-{index:04d}.pdf"
        return name, None, truth.entry(name, flaw, reasons, filled, production, False)
    pasted = production not in ("scan", "photo")
    acro = production == "acroform"
    # The hard mix's own choices come from a second generator, so that the
    # default mix draws exactly what it drew before they existed.
    extra = random.Random(f"{seed}:{index}:hard")
    hands = None
    if args.mix == "hard" and production in ("scan", "photo") and extra.random() < 0.5:
        hands = {"employer": hand.Hand(extra), "user": hand.Hand(extra), "rng": extra}
    pdf = render.filled(rng, filled, layout, blank, style, acro=acro, allow_pasted=pasted, hands=hands)
    sheets = 4 if flaw == "multi_form" else 2
    if flaw == "multi_form":
        other = render.filled(rng, form.complete(rng), layout, blank, render.Style(rng), allow_pasted=pasted, hands=hands)
        pdf = render.concatenate([pdf, other])
    review_ok = False
    if production == "scan":
        dpi = args.dpi or (extra.choice([150, 200, 300, 600]) if args.mix == "hard" else None)
        plan = scan.Plan(rng, sheets, dpi=dpi, wrapper=args.wrapper)
        plan.duplex = plan.duplex and not args.simplex
        slips = None
        if args.mix == "hard" and extra.random() < 0.45 and not plan.upside:
            plan.ocr_layer = True
        if args.mix == "hard" and plan.ocr_layer and extra.random() < 0.7:
            slips = scan.slipper(extra, extra.uniform(0.15, 0.5 if hands is None else 0.9))
        with tempfile.TemporaryDirectory(prefix="gencorpus-") as work:
            pdf = scan.scan(pdf, plan, layout, filled.fields, work, slips)
        produced_by = plan.label() + ("+slips" if slips else "")
        review_ok = plan.degraded()
    elif production == "photo":
        shot = photo.Shot(extra, flaw, sheets)
        with tempfile.TemporaryDirectory(prefix="gencorpus-") as work:
            pdf = photo.photograph(pdf, shot, layout, extra, work)
        produced_by = shot.label()
        review_ok = shot.downscale is not None
    elif production == "digital" and style.pasted_signature:
        produced_by = "digital+sigimage"
    else:
        produced_by = production
    if hands:
        produced_by += "+hand"
        review_ok = True  # a person may have to read a hand
    name = f"form-{index:04d}.pdf"
    return name, pdf, truth.entry(name, flaw, reasons, filled, produced_by, review_ok)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--form-dir", help="folder with blank.pdf and layout.json")
    parser.add_argument("--flaws", type=lambda s: set(s.split(",")), help="only these flaws, comma-separated")
    parser.add_argument(
        "--mix",
        choices=list(MIXES),
        default="default",
        help="hard: phone photos, handwriting, text layers, 150-600 dpi, photo flaws",
    )
    parser.add_argument("--production", choices=["any", *HARD_PRODUCTIONS], default="any")
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
        unknown = args.flaws - set(MIXES[args.mix][0])
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
