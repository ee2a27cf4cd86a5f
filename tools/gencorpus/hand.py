"""Handwritten fields: what a person writes with a pen in a form's boxes.

A `Hand` is one writer: a handwriting-like font Debian ships (DKG
Handwriting, Breip, Delphine, Steve Hand, Comic Neue; any
TrueType font when none is installed) plus the habits no font has: a slant,
a letter size, a baseline that wanders, letters spaced unevenly, a pen's
stroke width and colour. Each glyph is drawn on its own and distorted on its
own (turned, sheared, scaled, lifted), so the same letter never comes out
twice the same. Accents are kept: a hand writes "Benoît" and "Hélène".

A field is drawn into a transparent PNG the size of its box, pasted in the
vector PDF, and then printed, scanned or photographed like the rest.
"""

import math
import os

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "/usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf",
    "/usr/share/fonts/truetype/breip/Breip.ttf",
    "/usr/share/fonts/truetype/sjfonts/Delphine.ttf",
    "/usr/share/fonts/truetype/sjfonts/SteveHand.ttf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Light.otf",
]
# Without the handwriting packages the hands still differ by their habits.
FALLBACK = [
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Italic.ttf",
    "/usr/share/fonts/truetype/crosextra/Carlito-Italic.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
]
PENS = [(20, 30, 140), (25, 25, 30), (0, 50, 150), (40, 40, 80), (10, 10, 10)]
DPI = 240


def available():
    found = [f for f in FONTS if os.path.exists(f)]
    return found or [f for f in FALLBACK if os.path.exists(f)]


class Hand:
    """One writer's habits, drawn from `rng`."""

    def __init__(self, rng):
        fonts = available()
        if not fonts:
            raise SystemExit("no font for handwriting: install fonts-dkg-handwriting or fonts-dejavu-core")
        self.font = rng.choice(fonts)
        self.name = self.font.rsplit("/", 1)[1].split(".")[0]
        self.size = rng.uniform(11.5, 16.0)  # points: people write larger than they type
        self.slant = rng.uniform(-0.12, 0.38)  # shear, positive leans right
        self.wobble = rng.uniform(0.3, 1.6)  # baseline drift, points
        self.spacing = rng.uniform(-0.06, 0.18)  # extra advance, in ems
        self.jitter = rng.uniform(0.02, 0.09)  # per-glyph randomness
        self.stroke = rng.choice([0, 0, 1])  # a fine or a broad pen
        self.pen = rng.choice(PENS)
        self.rise = rng.uniform(-0.15, 0.15)  # the line climbs or sinks across the box

    def write(self, rng, text, box_w, box_h):
        """`text` written in a box of box_w x box_h points: an RGBA image at DPI."""
        k = DPI / 72.0
        w, h = int(box_w * k), int(box_h * k)
        size = self.size
        pad = rng.uniform(3.0, 10.0)
        room = box_w - pad - 4
        font = ImageFont.truetype(self.font, int(size * k))
        natural = _advance(font, text, self.spacing) / k
        if natural > room:  # the writer squeezes the end in
            size *= room / natural
            font = ImageFont.truetype(self.font, max(8, int(size * k)))
        img = Image.new("L", (w, h), 0)
        x = pad * k
        base = box_h * rng.uniform(0.62, 0.78) * k
        phase, freq = rng.uniform(0, 6.28), rng.uniform(0.01, 0.04)
        for ch in text:
            adv = font.getlength(ch) + self.spacing * size * k
            if ch != " ":
                glyph, (gx, gy) = _glyph(rng, font, ch, self.slant, self.jitter)
                y = base + self.wobble * k * math.sin(phase + freq * x) + self.rise * (x / k) * 0.1 * k
                y += rng.gauss(0, self.jitter * size * k * 0.3)
                img.paste(glyph, (int(x - gx), int(y - gy)), glyph)
            x += adv * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if self.stroke:
            img = img.filter(ImageFilter.MaxFilter(3))
        rgba = Image.new("RGBA", (w, h), self.pen + (0,))
        rgba.putalpha(img)
        return rgba


def _advance(font, text, spacing):
    size = font.size
    return sum(font.getlength(ch) + spacing * size for ch in text)


def _glyph(rng, font, ch, slant, jitter):
    """One letter as a mask, turned, sheared and scaled on its own, with the
    point of the mask where its pen started on the baseline."""
    right = font.getbbox(ch)[2]
    ascent, descent = font.getmetrics()
    pad = font.size // 2
    gw, gh = right + 2 * pad, ascent + descent + pad
    canvas = Image.new("L", (gw, gh), 0)
    ImageDraw.Draw(canvas).text((pad, pad // 2), ch, font=font, fill=255)
    origin = (pad, pad // 2 + ascent)
    shear = slant + rng.gauss(0, jitter)
    scale = 1.0 + rng.gauss(0, jitter)
    angle = math.radians(rng.gauss(0, jitter * 40))
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    cx, cy = gw / 2, gh / 2
    # output -> input: rotate and scale about the centre, shear along x
    a, b = cos, sin + shear
    d, e = -sin, cos
    c = cx - a * cx - b * cy
    f = cy - d * cx - e * cy
    return canvas.transform((gw, gh), Image.AFFINE, (a, b, c, d, e, f), Image.BILINEAR), origin
