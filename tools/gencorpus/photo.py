"""Phone photos of a filled form: what an applicant sends when they have no scanner.

Each page is rendered with pdftoppm, then laid on a table and seen by a
camera: a projective warp from a page tilted in 3D (pitch, yaw, roll, a
phone's focal length), uneven light (a gradient, a vignette, a soft shadow),
a colour cast, sensor noise, a little defocus, and a phone camera's JPEG
(quality 70-92, 8-12 MP, or downscaled by a messaging app) wrapped in a PDF
by img2pdf. The frame may cut the page: through its margins only (the form
is still whole: `+margincut`, `+onesquare` when only the QR code and one
corner square are left), or through a field, a box or a signature zone (the
flaw `cut_off`). The flaws `dark_page` and `blurred_page` make a page too
dark or too blurred to be read whole. Both call for `incomplete_scan`.

Every choice comes from `Shot`, drawn up front from the form's own random
generator, so `produced_by` can say how the file was made.
"""

import math
import os

import numpy
from PIL import Image, ImageFilter

import scan

PAGE_PT = (612.0, 792.0)
CAMERAS = [(3024, 4032), (3000, 4000), (2448, 3264), (2736, 3648)]  # 12, 12, 8, 10 MP
TABLES = [(120, 84, 52), (168, 130, 92), (92, 92, 96), (205, 200, 190), (60, 48, 40), (182, 178, 170)]
EDGE_PX = 6  # a zone this close to the frame's edge is not seen whole
LABEL_PT = 16  # a field's printed label sits above its box


def zones(layout, page):
    """The page's zones a reader must see whole, as (name, [x0, y0, x1, y1]) in
    points: the fields with their labels, the boxes, the signatures, the QR code."""
    out = []
    for field in layout["fields"]:
        if field["page"] == page:
            x0, y0, x1, y1 = field["box"]
            out.append((field["id"], [x0 - 4, y0 - LABEL_PT, x1 + 4, y1 + 4]))
    qx0, qy0, qx1, qy1 = layout["qr_code"]["box"]
    out.append(("qr", [qx0 - 4, qy0 - 4, qx1 + 4, qy1 + 4]))
    return out


def _squares(layout):
    size = layout["registration_marks"]["size_pt"]
    return [[x, y, x + size, y + size] for x, y in layout["registration_marks"]["top_left_corners"]]


class Shot:
    """Every random choice of one phone photo of a form."""

    def __init__(self, rng, flaw, pages):
        self.camera = rng.choice(CAMERAS)
        self.downscale = rng.uniform(0.38, 0.7) if rng.random() < 0.45 else None
        self.quality = rng.randint(70, 92)
        self.page_dpi = rng.random() < 0.7  # else 72 dpi: a page 40 inches wide
        self.table = rng.choice(TABLES)
        self.cast = rng.choice(["warm", "cool", "green", "none"])
        self.seed = rng.randint(1, 2**31 - 1)
        self.flaw_page = rng.randrange(pages) if flaw in ("cut_off", "dark_page", "blurred_page") else None
        self.flaw = flaw
        # per page: "whole", "margincut", "onesquare" (fine) or "cut" (the flaw)
        self.framing = []
        for p in range(pages):
            if flaw == "cut_off" and p == self.flaw_page:
                self.framing.append("cut")
            else:
                self.framing.append(rng.choices(["whole", "margincut", "onesquare"], [60, 28, 12])[0])
        self.poses = [
            (rng.gauss(0, 9), rng.gauss(0, 6), rng.uniform(-4, 4) if rng.random() < 0.7 else rng.uniform(-12, 12))
            for _ in range(pages)
        ]
        self.shadow = rng.random() < 0.6
        self.blur = rng.uniform(0.0, 0.9)

    def size(self):
        w, h = self.camera
        if self.downscale:
            w, h = int(w * self.downscale), int(h * self.downscale)
        return w, h

    def label(self):
        w, h = self.size()
        mp = w * h / 1e6
        parts = [f"photo/{'a4fit' if self.page_dpi else '72dpi'}/{mp:.1f}MP", f"q{self.quality}"]
        if self.downscale:
            parts.append("downscaled")
        if self.cast != "none":
            parts.append(self.cast)
        if self.shadow:
            parts.append("shadow")
        for name in ("margincut", "onesquare"):
            if name in self.framing:
                parts.append(name)
        if self.flaw in ("cut_off", "dark_page", "blurred_page"):
            parts.append(self.flaw.replace("_page", "") if self.flaw != "cut_off" else "cut")
        return "+".join(parts)


def _pose(pitch, yaw, roll, f, fill, size):
    """Page points -> photo pixels for a page tilted in 3D and seen by a
    pinhole camera of focal `f` px, centred and `fill` of the frame's height."""
    w, h = size
    rp, ry, rr = (math.radians(a) for a in (pitch, yaw, roll))
    rx = numpy.array([[1, 0, 0], [0, math.cos(rp), -math.sin(rp)], [0, math.sin(rp), math.cos(rp)]])
    ryy = numpy.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rz = numpy.array([[math.cos(rr), -math.sin(rr), 0], [math.sin(rr), math.cos(rr), 0], [0, 0, 1]])
    rot = rz @ ryy @ rx
    distance = f * PAGE_PT[1] / (fill * h)

    def project(x, y):
        p = rot @ numpy.array([x - PAGE_PT[0] / 2, y - PAGE_PT[1] / 2, 0.0]) + numpy.array([0, 0, distance])
        return f * p[0] / p[2] + w / 2, f * p[1] / p[2] + h / 2

    corners = [(0, 0), (PAGE_PT[0], 0), (PAGE_PT[0], PAGE_PT[1]), (0, PAGE_PT[1])]
    return homography(corners, [project(x, y) for x, y in corners])


def homography(src, dst):
    """The 3x3 matrix taking the four points `src` to `dst`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    a = numpy.linalg.solve(numpy.array(rows, dtype=float), numpy.array(rhs, dtype=float))
    return numpy.append(a, 1.0).reshape(3, 3)


def apply(hm, x, y):
    u, v, s = hm @ numpy.array([x, y, 1.0])
    return u / s, v / s


def _inside(hm, box, size, margin=EDGE_PX):
    w, h = size
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])):
        u, v = apply(hm, x, y)
        if not (margin <= u < w - margin and margin <= v < h - margin):
            return False
    return True


def _share_out(hm, box, size):
    """The share of a zone (sampled on a grid) that lies outside the frame."""
    w, h = size
    out = total = 0
    for i in range(7):
        for j in range(4):
            x = box[0] + (box[2] - box[0]) * i / 6
            y = box[1] + (box[3] - box[1]) * j / 3
            u, v = apply(hm, x, y)
            out += not (0 <= u < w and 0 <= v < h)
            total += 1
    return out / total


def _shifted(hm, dx, dy):
    return numpy.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]]) @ hm


def framing_ok(hm, framing, layout, page, size):
    """Whether the page seen through `hm` is framed as `framing` says."""
    seen = [_inside(hm, box, size) for _, box in zones(layout, page)]
    corners = [apply(hm, x, y) for x, y in ((0, 0), (PAGE_PT[0], 0), PAGE_PT, (0, PAGE_PT[1]))]
    page_in = all(0 <= u < size[0] and 0 <= v < size[1] for u, v in corners)
    if framing == "whole":
        return page_in
    squares = sum(_inside(hm, sq, size, margin=0) for sq in _squares(layout))
    if framing == "margincut":
        return all(seen) and not page_in
    if framing == "onesquare":
        return all(seen) and squares == 1
    # cut: a fifth of a field, box or signature zone is outside; the QR code stays
    qr_seen = seen[-1]
    return qr_seen and any(_share_out(hm, box, size) >= 0.2 for name, box in zones(layout, page) if name != "qr")


def _cut_through(rng, hm, layout, page, size):
    """`hm` moved so that one frame edge runs into the zone nearest that side
    of the page, 20-60 % of the way in (at most 60 points)."""
    w, h = size
    edge = rng.choice(["left", "top", "right", "bottom"])
    side = {"left": 0, "top": 1, "right": 2, "bottom": 3}[edge]
    boxes = [box for name, box in zones(layout, page) if name != "qr"]
    sign = 1 if side < 2 else -1
    outer = min(sign * box[side] for box in boxes)
    box = rng.choice([b for b in boxes if sign * b[side] <= outer + 10])
    extent = box[2] - box[0] if side in (0, 2) else box[3] - box[1]
    depth = rng.uniform(0.2, 0.6) * min(extent, 100)
    x_mid, y_mid = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if edge == "left":
        u, _ = apply(hm, box[0] + depth, y_mid)
        return _shifted(hm, -u, 0)
    if edge == "right":
        u, _ = apply(hm, box[2] - depth, y_mid)
        return _shifted(hm, w - u, 0)
    if edge == "top":
        _, v = apply(hm, x_mid, box[1] + depth)
        return _shifted(hm, 0, -v)
    _, v = apply(hm, x_mid, box[3] - depth)
    return _shifted(hm, 0, h - v)


def place(rng, framing, pose, layout, page, size):
    """A homography (page points -> photo pixels) framed as asked, found by
    trying poses and shifts; the last resort for a fine page is `whole`."""
    w, h = size
    f = max(w, h) * rng.uniform(0.85, 1.1)
    for attempt in range(400):
        pitch, yaw, roll = pose if attempt < 200 else (pose[0] / 2, pose[1] / 2, pose[2] / 2)
        if framing == "whole":
            fill = rng.uniform(0.72, 0.9)
        elif framing == "cut":
            fill = rng.uniform(0.8, 1.0)
        else:
            fill = rng.uniform(0.88, 1.02)
        hm = _pose(pitch, yaw, roll, f, fill, size)
        spread = 0.04 if framing == "whole" else 0.14
        hm = _shifted(hm, rng.uniform(-spread, spread) * w, rng.uniform(-spread, spread) * h)
        if framing == "cut":
            hm = _cut_through(rng, hm, layout, page, size)
        if framing == "onesquare":
            # the page pushed up and left: the top and left margins leave the frame
            tl = apply(hm, 0, 0)
            k = abs(apply(hm, PAGE_PT[0], 0)[0] - tl[0]) / PAGE_PT[0]
            hm = _shifted(hm, -tl[0] - rng.uniform(38, 50) * k, -tl[1] - rng.uniform(40, 110) * k)
        if framing_ok(hm, framing, layout, page, size):
            return hm, framing
    if framing == "cut":
        raise RuntimeError(f"no cut framing found for page {page}")
    hm = _pose(0, 0, 0, f, 0.8, size)
    return hm, "whole"


def _render(pdf, dpi, work):
    src = os.path.join(work, "in.pdf")
    with open(src, "wb") as fh:
        fh.write(pdf)
    scan._run(["pdftoppm", "-r", str(dpi), src, os.path.join(work, "ph")])
    return [os.path.join(work, f) for f in sorted(os.listdir(work)) if f.startswith("ph-")]


def _smooth(noise, size, cells, lo, hi):
    """A smooth random field over the frame (bilinear upsampling of a small grid)."""
    grid = noise.uniform(lo, hi, (cells, cells)).astype(numpy.float32)
    im = Image.fromarray(grid, mode="F").resize(size, Image.BILINEAR)
    return numpy.asarray(im)


def _light(rng, shot, size, dark):
    """Gain per pixel: a slanted gradient, a vignette, perhaps a soft shadow."""
    w, h = size
    sw, sh = max(8, w // 16), max(8, h // 16)
    ys, xs = numpy.mgrid[0:sh, 0:sw].astype(numpy.float32)
    xs, ys = xs / sw - 0.5, ys / sh - 0.5
    angle = rng.uniform(0, 2 * math.pi)
    gain = 1.0 + rng.uniform(0.08, 0.3) * (math.cos(angle) * xs + math.sin(angle) * ys)
    gain *= 1.0 - rng.uniform(0.1, 0.3) * (xs**2 + ys**2) * 2
    if shot.shadow:
        # a phone's or a hand's shadow: a half-plane with a soft edge
        a = rng.uniform(0, 2 * math.pi)
        offset = rng.uniform(0.15, 0.4)
        side = math.cos(a) * xs + math.sin(a) * ys - offset
        depth = rng.uniform(0.5, 0.78)
        softness = rng.uniform(0.02, 0.08)
        gain *= 1.0 - (1.0 - depth) / (1.0 + numpy.exp(-side / softness))
    if dark:
        gain *= rng.uniform(0.07, 0.11)
    im = Image.fromarray(gain.astype(numpy.float32), mode="F").resize(size, Image.BILINEAR)
    return numpy.asarray(im)


_CASTS = {"warm": (1.0, 0.9, 0.74), "cool": (0.88, 0.95, 1.0), "green": (0.9, 1.0, 0.86), "none": (1.0, 1.0, 1.0)}


def _picture(page_png, hm, shot, size, rng, dark, blurred):
    """One page as the phone saw it: an RGB uint8 array."""
    w, h = size
    page = Image.open(page_png).convert("RGB")
    k = page.width / PAGE_PT[0]  # source pixels per point
    to_src = numpy.diag([k, k, 1.0]) @ numpy.linalg.inv(hm)  # photo px -> source px
    to_src /= to_src[2, 2]
    coeffs = tuple(to_src.flatten()[:8])
    rgba = page.convert("RGBA")
    seen = rgba.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR, fillcolor=(0, 0, 0, 0))
    noise = numpy.random.default_rng(rng.randint(0, 2**31))
    table = _smooth(noise, (w, h), 24, 0.85, 1.12)[..., None] * numpy.array(shot.table, dtype=numpy.float32)
    out = numpy.asarray(seen.convert("RGB"), dtype=numpy.float32)
    alpha = numpy.asarray(seen.getchannel("A"), dtype=numpy.float32)[..., None] / 255.0
    out = out * alpha + table * (1.0 - alpha)
    del table, alpha
    out *= _light(rng, shot, size, dark)[..., None]
    out *= numpy.array(_CASTS[shot.cast], dtype=numpy.float32)
    grain = noise.normal(0, 9 if dark else 3, (h // 2, w // 2)).astype(numpy.float32)
    out += numpy.asarray(Image.fromarray(grain, mode="F").resize((w, h)))[..., None]
    im = Image.fromarray(numpy.clip(out, 0, 255).astype(numpy.uint8))
    del out
    radius = shot.blur * w / 3000
    if blurred:
        radius = rng.uniform(0.55, 0.8) * 9.0 * _pt_px(hm)  # about a letter's height
    if radius > 0.3:
        im = im.filter(ImageFilter.GaussianBlur(radius))
    return im


def _pt_px(hm):
    """Photo pixels per page point near the page's centre."""
    u0, v0 = apply(hm, PAGE_PT[0] / 2, PAGE_PT[1] / 2)
    u1, v1 = apply(hm, PAGE_PT[0] / 2 + 10, PAGE_PT[1] / 2)
    return math.hypot(u1 - u0, v1 - v0) / 10


def photograph(pdf, shot, layout, rng, work):
    """The PDF a phone makes of `pdf` (bytes): one JPEG per page."""
    size = shot.size()
    fill_px = size[1] * 0.95
    dpi = int(min(300, max(100, fill_px / 11)))
    pages = _render(pdf, dpi, work)
    jpegs = []
    for n, png in enumerate(pages):
        form_page = n % 2 + 1
        hm, framing = place(rng, shot.framing[n], shot.poses[n], layout, form_page, size)
        shot.framing[n] = framing
        flawed = n == shot.flaw_page
        im = _picture(png, hm, shot, size, rng, flawed and shot.flaw == "dark_page", flawed and shot.flaw == "blurred_page")
        out = os.path.join(work, f"photo-{n}.jpg")
        dpi_meta = size[0] / 8.27 if shot.page_dpi else 72
        im.save(out, "JPEG", quality=shot.quality, dpi=(dpi_meta, dpi_meta))
        jpegs.append(out)
    out = os.path.join(work, "photo.pdf")
    scan._run(["img2pdf", "-o", out, *jpegs])
    with open(out, "rb") as fh:
        return fh.read()

