"""Print-and-scan: a filled vector PDF through the tools real scans come from.

Pages are rasterised with pdftoppm, distorted with ImageMagick the way a
scanner or a careless hand does (skew, shift, scale, noise, blur, upside
down, an A4 glass around the Letter page, pages swapped, blank duplex backs),
then wrapped into a PDF by one of img2pdf (DCT or Flate), ImageMagick,
Pillow (DCT or CCITT) or tiff2pdf (CCITT G4). A `Plan` holds every choice so
that `produced_by` can say how the file was made.
"""

import io
import os
import subprocess

import numpy
from PIL import Image, ImageFilter, ImageOps
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

CONVERT = "/usr/bin/convert"  # /usr/local/bin/convert may be a stand-in
MAX_BYTES = 1_500_000
A4_IN = (8.27, 11.69)
LETTER_IN = (8.5, 11.0)

# wrapper -> (family for produced_by, weight)
WRAPPERS = {
    "img2pdf": ("scan", 30),
    "pil": ("scan", 18),
    "magick": ("scan", 15),
    "tiff-g4": ("scan-g4", 18),
    "pil-g4": ("scan-g4", 7),
    "img2pdf-png": ("scan-flate", 12),
}
_BILEVEL = {"tiff-g4", "pil-g4"}


class Plan:
    """Every random choice of one scan, drawn up front from the form's rng."""

    def __init__(self, rng, sheets=2, dpi=None, wrapper=None):
        names = list(WRAPPERS)
        self.wrapper = wrapper or rng.choices(names, [WRAPPERS[n][1] for n in names])[0]
        if self.wrapper in _BILEVEL:
            self.mode = "bw"
        elif self.wrapper == "img2pdf-png":
            self.mode = rng.choice(["bw", "bw", "grey"])
        else:
            self.mode = rng.choices(["grey", "colour"], [7, 3])[0]
        if dpi:
            self.dpi = dpi
        elif self.mode == "bw":
            self.dpi = rng.choices([200, 300, 600], [2, 6, 2])[0]
        elif self.wrapper == "img2pdf-png":
            self.dpi = rng.choice([150, 200])
        else:
            self.dpi = rng.choices([150, 200, 300, 600], [15, 30, 45, 10])[0]
        if self.wrapper == "magick" or (sheets > 2 and self.mode != "bw" and not dpi):
            self.dpi = min(self.dpi, 300)  # cache policy (see _distort); MAX_BYTES
        self.quality = rng.randint(40, 85) if self.dpi < 600 else rng.randint(35, 50)
        self.rotation = rng.uniform(-2.5, 2.5) if rng.random() < 0.65 else 0.0
        self.shift = (rng.uniform(-8, 8), rng.uniform(-8, 8)) if rng.random() < 0.5 else None
        self.scale = rng.uniform(0.96, 1.03) if rng.random() < 0.3 else None
        self.noise = rng.uniform(0.08, 0.3) if rng.random() < 0.5 else None
        self.blur = rng.uniform(0.3, 0.9) if rng.random() < 0.3 else None
        self.threshold = rng.uniform(48, 62)
        self.upside = rng.random() < 0.08
        self.a4 = rng.random() < 0.12
        self.swapped = rng.random() < 0.08 and sheets == 2
        self.duplex = rng.random() < 0.1 and (self.mode == "bw" or self.dpi <= 300)
        self.ocr_layer = self.wrapper in ("img2pdf", "pil") and not self.upside and rng.random() < 0.15
        self.cm_units = self.wrapper == "magick" and rng.random() < 0.3
        self.seed = rng.randint(1, 2**31 - 1)
        share = 0.6 if self.dpi <= 200 else 0.2 if self.dpi <= 300 else 0.0
        self.magick_distorts = rng.random() < share
        if (self.mode == "grey" and self.wrapper == "img2pdf-png") or (
            self.mode != "bw" and self.dpi > 300
        ):
            self.noise = None  # noise would not fit such a page in MAX_BYTES

    def label(self):
        """The `produced_by` string: family/wrapper/dpi, then the distortions."""
        family = WRAPPERS[self.wrapper][0]
        parts = [f"{family}/{self.wrapper}/{self.dpi}dpi"]
        if self.mode == "colour":
            parts.append("colour")
        if self.rotation:
            parts.append(f"rot{self.rotation:.1f}")
        for flag, name in [
            (self.shift, "shift"), (self.scale, "scale"), (self.noise, "noise"),
            (self.blur, "blur"), (self.upside, "upside"), (self.a4, "a4"),
            (self.swapped, "swapped"), (self.duplex, "duplex"),
            (self.ocr_layer, "ocrlayer"), (self.cm_units, "cmunits"),
        ]:
            if flag:
                parts.append(name)
        return "+".join(parts)

    def degraded(self):
        """Hard enough to read that `review` is an acceptable answer."""
        return self.dpi <= 150 or (self.blur or 0) > 0.7 or self.quality < 45


def _run(args):
    """Runs one tool; its own error message is what a failure should show."""
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")


def _px(inches, dpi):
    return int(round(inches * dpi))


def scan(pdf, plan, layout, values, work, slips=None):
    """The scanned PDF of `pdf` (bytes). `values` feeds the invisible text
    layer, through `slips` (what the scanner's OCR makes of a value)."""
    src = os.path.join(work, "in.pdf")
    with open(src, "wb") as fh:
        fh.write(pdf)
    colour = [] if plan.mode == "colour" else ["-gray"]
    _run(["pdftoppm", "-r", str(plan.dpi), *colour, src, os.path.join(work, "pg")])
    fronts = sorted(f for f in os.listdir(work) if f.startswith("pg-"))
    sheets = [(os.path.join(work, f), i) for i, f in enumerate(fronts)]
    if plan.swapped:
        sheets.reverse()
    pages = []  # (image path, index of the form page or None for a blank back)
    for n, (path, index) in enumerate(sheets):
        pages.append((_distort(path, plan, n, flip=plan.upside and (n == 0 or plan.seed % 2)), index))
        if plan.duplex:
            back = _blank_back(path, work, n)
            pages.append((_distort(back, plan, 100 + n, flip=False), None))
    quality = plan.quality
    for _ in range(4):
        out = _wrap([p for p, _ in pages], plan, quality, work)
        if plan.ocr_layer:
            out = _with_text_layer(out, [i for _, i in pages], layout, values, slips or _ocr_slips)
        if len(out) <= MAX_BYTES or plan.mode == "bw":
            return out
        quality = max(20, quality - 15)
    return out


def _distort(path, plan, n, flip):
    """One page through the scanner's geometry and noise.

    Some forms go through ImageMagick, the others through the same steps in
    Pillow and numpy, which take a fifth of the CPU (ImageMagick's arbitrary
    rotation alone costs 1.5 s on a 300 dpi page). A 600 dpi page always
    takes Pillow: Debian's policy caps ImageMagick's pixel cache at
    256 MiB, past which it crawls on disk."""
    out = f"{path}.d{n}.{'pbm' if plan.mode == 'bw' else 'pnm'}"
    if plan.magick_distorts:
        _distort_magick(path, out, plan, n, flip)
    else:
        _distort_pil(path, out, plan, n, flip)
    return out


def _paper(plan):
    return (245, 241, 230) if plan.mode == "colour" else (244, 244, 244)


def _placement(plan):
    """Canvas size, and where the page's centre lies from the canvas's centre
    (pixels). Placing by centre keeps a rotated page where it was."""
    dpi = plan.dpi
    if plan.a4:
        # A4 is taller but 0.23 in narrower than Letter: the sheet lies near
        # the glass's top edge and loses a little of each side.
        size = (_px(A4_IN[0], dpi), _px(A4_IN[1], dpi))
        top = 0.03 + (plan.seed % 5) / 100
        dx = ((plan.seed % 7) - 3) / 100
        return size, (_px(dx, dpi), _px(top + (LETTER_IN[1] - A4_IN[1]) / 2, dpi))
    dx, dy = plan.shift or (0, 0)
    size = (_px(LETTER_IN[0], dpi), _px(LETTER_IN[1], dpi))
    return size, (_px(dx / 72, dpi), _px(dy / 72, dpi))


def _distort_magick(path, out, plan, n, flip):
    paper = "#%02x%02x%02x" % _paper(plan)
    args = [CONVERT, path]
    if flip:
        args += ["-rotate", "180"]
    args += ["-background", paper]
    if plan.rotation:
        args += ["-rotate", f"{plan.rotation:.3f}"]
    if plan.scale:
        args += ["-resize", f"{plan.scale * 100:.2f}%"]
    (w, h), (dx, dy) = _placement(plan)
    args += ["-gravity", "center", "-extent", f"{w}x{h}{-dx:+d}{-dy:+d}"]
    args += ["+level-colors", f"#1c1c1c,{paper}"]
    if plan.noise:
        args += ["-seed", str(plan.seed + n), "-attenuate", f"{plan.noise:.2f}", "+noise", "Gaussian"]
    if plan.blur:
        args += ["-blur", f"0x{plan.blur * plan.dpi / 300:.2f}"]
    if plan.mode == "bw":
        args += ["-colorspace", "Gray", "-threshold", f"{plan.threshold:.0f}%"]  # .pbm: 1 bit
    elif plan.mode == "grey":
        args += ["-colorspace", "Gray"]
    args += ["-density", str(plan.dpi), "-units", "PixelsPerInch", out]
    _run(args)


def _distort_pil(path, out, plan, n, flip):
    im = Image.open(path).convert("RGB" if plan.mode == "colour" else "L")
    paper = _paper(plan) if plan.mode == "colour" else _paper(plan)[0]
    if flip:
        im = im.rotate(180)
    if plan.rotation:
        # Pillow turns counter-clockwise, ImageMagick clockwise: same label, same skew.
        im = im.rotate(-plan.rotation, resample=Image.BILINEAR, expand=True, fillcolor=paper)
    if plan.scale:
        im = im.resize((int(im.width * plan.scale), int(im.height * plan.scale)), Image.BILINEAR)
    (w, h), (dx, dy) = _placement(plan)
    canvas_im = Image.new(im.mode, (w, h), paper)
    canvas_im.paste(im, (dx + (w - im.width) // 2, dy + (h - im.height) // 2))
    pixels = numpy.asarray(canvas_im, dtype=numpy.float32)
    ink, light = 28.0, numpy.array(paper, dtype=numpy.float32)
    pixels = ink + pixels / 255.0 * (light - ink)
    if plan.noise:
        noise = numpy.random.default_rng(plan.seed + n).normal(0, 40 * plan.noise, pixels.shape)
        pixels += noise.astype(numpy.float32)
    im = Image.fromarray(numpy.clip(pixels, 0, 255).astype(numpy.uint8))
    if plan.blur:
        im = im.filter(ImageFilter.GaussianBlur(plan.blur * plan.dpi / 300))
    if plan.mode == "bw":
        im = im.convert("L").point(lambda v: 255 if v > plan.threshold * 2.55 else 0).convert("1")
    im.save(out)


def _blank_back(front, work, n):
    """The back of a sheet: blank but for a faint mirrored show-through."""
    out = os.path.join(work, f"back-{n}.pnm")
    im = Image.open(front)
    white = Image.new(im.mode, im.size, "white")
    Image.blend(ImageOps.mirror(im), white, 0.94).save(out)
    return out


def _wrap(pages, plan, quality, work):
    out = os.path.join(work, f"out-{quality}.pdf")
    dpi = str(plan.dpi)
    if plan.wrapper == "img2pdf":
        jpgs = [_encode(p, ".jpg", plan.dpi, quality) for p in pages]
        _run(["img2pdf", "-o", out, *jpgs])
    elif plan.wrapper == "img2pdf-png":
        pngs = [_encode(p, ".png", plan.dpi) for p in pages]
        _run(["img2pdf", "-o", out, *pngs])
    elif plan.wrapper == "magick":
        units = "PixelsPerCentimeter" if plan.cm_units else "PixelsPerInch"
        # Debian's policy forbids the PDF coder; PDFA writes the same kind of file.
        _run([CONVERT, *pages, "-compress", "jpeg", "-quality", str(quality),
              "-units", units, "-density", dpi, f"pdfa:{out}"])
    elif plan.wrapper == "tiff-g4":
        tifs = [_encode(p, ".tif", plan.dpi) for p in pages]
        joined = os.path.join(work, "all.tif")
        _run(["tiffcp", "-c", "g4", *tifs, joined])
        _run(["tiff2pdf", "-o", out, joined])
    else:  # pil and pil-g4
        images = [Image.open(p) for p in pages]
        images = [im.convert("1") if plan.mode == "bw" else im for im in images]
        images[0].save(out, "PDF", save_all=True, append_images=images[1:],
                       resolution=plan.dpi, quality=quality)
    with open(out, "rb") as fh:
        return fh.read()


def _encode(path, ext, dpi, quality=None):
    """A distorted page as the file a wrapper takes (JPEG, PNG or G4 TIFF)."""
    out = os.path.splitext(path)[0] + ext
    im = Image.open(path)
    if ext == ".jpg":
        im.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    elif ext == ".tif":
        im.convert("1").save(out, "TIFF", compression="group4", dpi=(dpi, dpi))
    else:
        im.save(out, "PNG", dpi=(dpi, dpi))
    return out


def _with_text_layer(pdf, indexes, layout, values, slips):
    """A scanner's invisible OCR text on top of each form page, with its slips."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter()
    for page, index in zip(reader.pages, indexes):
        if index is not None:
            w, h = float(page.mediabox.width), float(page.mediabox.height)
            buf = io.BytesIO()
            c = canvas.Canvas(buf, pagesize=(w, h), invariant=1)
            k = w / 612.0
            form_page = index % 2 + 1
            text = c.beginText()
            text.setTextRenderMode(3)
            text.setFont("Helvetica", 10 * k)
            for field in layout["fields"]:
                value = values.get(field["id"])
                if field["page"] == form_page and value:
                    x0, y0, _, y1 = field["box"]
                    text.setTextOrigin((x0 + 9) * k, h - (y0 + y1) / 2 * k - 3 * k)
                    text.textOut(slips(value))
            c.drawText(text)
            c.save()
            page.merge_page(PdfReader(io.BytesIO(buf.getvalue())).pages[0])
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _ocr_slips(value):
    """What a cheap OCR engine makes of a value: accents and look-alikes lost."""
    table = str.maketrans({"é": "e", "è": "e", "ê": "e", "ô": "o", "0": "O", "1": "l", "@": "©"})
    return value.translate(table) if len(value) % 3 == 0 else value


_LOOKALIKES = [
    ("é", "e"), ("è", "e"), ("ê", "e"), ("î", "i"), ("ô", "o"), ("ç", "c"), ("É", "E"),
    ("rn", "m"), ("m", "rn"), ("l", "1"), ("o", "0"), ("O", "0"), ("0", "O"), ("1", "l"),
    ("5", "S"), ("8", "B"), ("3", "8"), ("6", "5"), ("7", "1"), ("@", "©"), (".", ","),
    ("-", " "), ("i", "l"), ("u", "n"),
]


def slipper(rng, rate):
    """A cheap OCR engine over a form: each value slips with probability
    `rate`, by a look-alike, a lost accent, a dropped or a wrong letter, so
    that a text layer can never be trusted alone."""

    def slips(value):
        if rng.random() >= rate:
            return value
        found = [(a, b) for a, b in _LOOKALIKES if a in value]
        kind = rng.random()
        if found and kind < 0.6:
            a, b = rng.choice(found)
            return value.replace(a, b, 1)
        at = rng.randrange(len(value))
        if kind < 0.8:
            return value[:at] + value[at + 1:]
        if value[at].isdigit():
            return value[:at] + str((int(value[at]) + rng.randint(1, 9)) % 10) + value[at + 1:]
        return value[:at] + rng.choice("aeilnorstu") + value[at + 1:]

    return slips
