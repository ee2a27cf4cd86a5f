"""A filled DA-100 as a vector PDF: what the applicant typed and signed,
drawn over the official blank form.

Typed text goes inside each field's box the way a word processor or a PDF
viewer's "fill and sign" puts it; ink (signatures, ticks, smudges) is drawn
from the geometry in `ink.py`, as vector strokes or as a pasted PNG
signature. The AcroForm variant puts the text into real form fields instead.
"""

import io
import os

from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter, Transformation
from reportlab.lib import colors
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

import ink

PAGE_H = 792.0
_FONT_FILES = {
    "Carlito": "/usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf",
    "LiberationSans": "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "LiberationSerif": "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
    "DejaVuSans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "LiberationSansItalic": "/usr/share/fonts/truetype/liberation2/LiberationSans-Italic.ttf",
    "CarlitoItalic": "/usr/share/fonts/truetype/crosextra/Carlito-Italic.ttf",
}
_INKS = [(0.05, 0.1, 0.55), (0.1, 0.1, 0.12), (0.0, 0.2, 0.6), (0.15, 0.15, 0.3)]
IMAGE_DPI = 240


def fonts():
    """The TrueType fonts found on this machine, registered with reportlab."""
    found = []
    for name, path in _FONT_FILES.items():
        if os.path.exists(path):
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, path))
            found.append(name)
    if not found:
        raise SystemExit("no TrueType font found: install fonts-dejavu-core")
    return found


class Style:
    """How one applicant fills the form: font, pen, tick habit."""

    def __init__(self, rng):
        available = fonts()
        upright = [f for f in available if "Italic" not in f]
        self.font = rng.choice(upright)
        self.size = rng.uniform(10.0, 12.0)
        self.pad = rng.uniform(6.0, 12.0)
        self.ink = rng.choice(_INKS)
        self.pen = rng.uniform(0.7, 1.4)
        self.tick = rng.choice(["x", "x", "check", "fill"])
        self.sig_font = rng.choice(available)
        self.sig_size = rng.uniform(14.0, 20.0)
        self.pasted_signature = rng.random() < 0.6


def _to_pdf(box, x, y):
    """Box-relative top-left coordinates to PDF user space."""
    return box[0] + x, PAGE_H - (box[1] + y)


def _draw_vector(c, mark, box, colour):
    c.setStrokeColorRGB(*colour)
    c.setFillColorRGB(*colour)
    c.setLineCap(1)
    c.setLineJoin(1)
    for stroke in mark.strokes:
        for (x0, y0, w0), (x1, y1, w1) in zip(stroke, stroke[1:]):
            c.setLineWidth((w0 + w1) / 2)
            c.line(*_to_pdf(box, x0, y0), *_to_pdf(box, x1, y1))
    for blob in mark.blobs:
        path = c.beginPath()
        path.moveTo(*_to_pdf(box, *blob[0]))
        for pt in blob[1:]:
            path.lineTo(*_to_pdf(box, *pt))
        path.close()
        c.drawPath(path, stroke=0, fill=1)


def _draw_pasted(c, mark, box, colour, inset=4.0):
    """The mark as a transparent PNG pasted in the box, as signing apps do."""
    w_pt, h_pt = box[2] - box[0] - 2 * inset, box[3] - box[1] - 2 * inset
    k = IMAGE_DPI / 72.0
    img = Image.new("RGBA", (int(w_pt * k), int(h_pt * k)), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    rgba = tuple(int(v * 255) for v in colour) + (255,)
    for stroke in mark.strokes:
        for (x0, y0, w0), (x1, y1, _) in zip(stroke, stroke[1:]):
            p0 = ((x0 - inset) * k, (y0 - inset) * k)
            p1 = ((x1 - inset) * k, (y1 - inset) * k)
            r = max(1.0, w0 * k / 2)
            draw.line([p0, p1], fill=rgba, width=int(round(2 * r)))
            draw.ellipse([p1[0] - r, p1[1] - r, p1[0] + r, p1[1] + r], fill=rgba)
    for blob in mark.blobs:
        draw.polygon([((x - inset) * k, (y - inset) * k) for x, y in blob], fill=rgba)
    x, y = _to_pdf(box, inset, h_pt + inset)
    c.drawImage(ImageReader(img), x, y, w_pt, h_pt, mask="auto")


def _typed(c, box, text, font, size, pad, colour=(0.08, 0.08, 0.08)):
    """Text typed into a box: left-padded, vertically centred, shrunk to fit."""
    room = box[2] - box[0] - pad - 3
    while size > 6 and pdfmetrics.stringWidth(text, font, size) > room:
        size -= 0.5
    c.setFillColorRGB(*colour)
    c.setFont(font, size)
    baseline = box[1] + (box[3] - box[1]) / 2 + size * 0.33
    c.drawString(box[0] + pad, PAGE_H - baseline, text)


def _signature_mark(rng, form, party, box, style):
    w, h = box[2] - box[0], box[3] - box[1]
    kind = form.signatures[party]
    if kind == "hand":
        return ink.signature(rng, w, h, style.pen)
    if kind == "smudge":
        return ink.smudge(rng, w, h)
    return None


def _written(c, hand, rng, box, text):
    """A field written by hand: the writer's image pasted over the box."""
    w, h = box[2] - box[0], box[3] - box[1]
    x, y = _to_pdf(box, 0, h)
    c.drawImage(ImageReader(hand.write(rng, text, w, h)), x, y, w, h, mask="auto")


def _page(c, rng, form, layout, page, style, acro, allow_pasted, hands=None):
    for field in layout["fields"]:
        if field["page"] != page:
            continue
        fid, box, kind = field["id"], field["box"], field["kind"]
        if kind == "checkbox":
            code = fid.split(".")[1]
            if acro:
                _acro_checkbox(c, fid, box, code in form.ticks, style)
            elif code in form.ticks:
                size = box[2] - box[0]
                _draw_vector(c, ink.tick(rng, style.tick, size, style.pen * 1.2), box, style.ink)
        elif kind == "signature":
            party = fid.split(".")[0]
            if form.signatures[party] == "typed":
                first, last = form.names[party]
                sig_box = [box[0], box[1] + 16, box[2], box[3] - 4]
                _typed(c, sig_box, f"{first} {last}", style.sig_font, style.sig_size, 14, style.ink)
                continue
            mark = _signature_mark(rng, form, party, box, style)
            if mark is None:
                continue
            if allow_pasted and style.pasted_signature:
                _draw_pasted(c, mark, box, style.ink)
            else:
                _draw_vector(c, mark, box, style.ink)
        else:
            text = form.fields.get(fid)
            if acro:
                _acro_text(c, fid, box, text or "")
            elif text and hands:
                party = fid.split(".")[0]
                _written(c, hands[party], hands["rng"], box, text)
            elif text:
                _typed(c, box, text, style.font, style.size, style.pad)


def _acro_text(c, fid, box, value):
    c.acroForm.textfield(
        name=fid,
        value=value,
        x=box[0] + 1,
        y=PAGE_H - box[3] + 1,
        width=box[2] - box[0] - 2,
        height=box[3] - box[1] - 2,
        fontName="Helvetica",
        fontSize=10,
        borderWidth=0,
        fillColor=colors.white,
        textColor=None,
        forceBorder=False,
        maxlen=100,
    )


def _acro_checkbox(c, fid, box, checked, style):
    c.acroForm.checkbox(
        name=fid,
        checked=checked,
        x=box[0],
        y=PAGE_H - box[3],
        size=box[2] - box[0],
        buttonStyle="cross" if style.tick != "check" else "check",
        borderWidth=0,
        fillColor=colors.white,
    )


def filled(rng, form, layout, blank_path, style, acro=False, allow_pasted=True, hands=None):
    """One filled form (two pages) as PDF bytes. `hands`: the text fields are
    written by hand, {"employer": Hand, "user": Hand, "rng": their Random}."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(612, 792), invariant=1)
    for page in (1, 2):
        _page(c, rng, form, layout, page, style, acro, allow_pasted, hands)
        c.showPage()
    c.save()
    return _under_blank(buf.getvalue(), blank_path)


def _under_blank(overlay, blank_path):
    """Put the official blank form underneath each overlay page."""
    blank = PdfReader(blank_path)
    filled_in = PdfReader(io.BytesIO(overlay))
    for i, page in enumerate(filled_in.pages):
        page.merge_transformed_page(blank.pages[i % len(blank.pages)], Transformation(), over=False)
    writer = PdfWriter()
    writer.append(filled_in)  # keeps the AcroForm and the merged pages
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def concatenate(pdfs):
    writer = PdfWriter()
    for data in pdfs:
        writer.append(PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
