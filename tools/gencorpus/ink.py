"""Hand-made marks as geometry: signatures, ticks, smudges.

A mark is a list of strokes and a list of blobs in box coordinates (points,
origin top-left, y downwards). A stroke is a list of (x, y, width) samples
along a pen path: the width follows the pen's speed, as a ballpoint's does.
A blob is a closed polygon to fill (a filled box, a smudge). The renderers in
`render.py` draw the same geometry as vectors or into a pasted image, so a
signature looks the same whichever way the form was produced.
"""

import math


class Mark:
    def __init__(self, strokes=None, blobs=None):
        self.strokes = strokes or []
        self.blobs = blobs or []

    def points(self):
        for stroke in self.strokes:
            for x, y, _ in stroke:
                yield x, y
        for blob in self.blobs:
            yield from blob

    def bbox(self):
        pts = list(self.points())
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        return min(xs), min(ys), max(xs), max(ys)

    def transformed(self, scale, dx, dy, width_scale=1.0):
        """The same mark scaled about the origin then moved by (dx, dy)."""
        strokes = [
            [(x * scale + dx, y * scale + dy, w * width_scale) for x, y, w in s]
            for s in self.strokes
        ]
        blobs = [[(x * scale + dx, y * scale + dy) for x, y in b] for b in self.blobs]
        return Mark(strokes, blobs)


def _wobble(rng, terms=3, amplitude=1.0):
    """A smooth random function of t: the hand's slow drift."""
    waves = [
        (rng.uniform(0.2, 1.5), rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 1.0))
        for _ in range(terms)
    ]
    total = sum(a for _, _, a in waves)
    return lambda t: amplitude * sum(a * math.sin(f * t + p) for f, p, a in waves) / total


def _widths(points, base, rng):
    """Pen width per sample: thicker on slow downstrokes, thinner on fast upstrokes."""
    drift = _wobble(rng, amplitude=0.25)
    out = []
    for i, (x, y) in enumerate(points):
        j = min(i + 1, len(points) - 1)
        k = max(i - 1, 0)
        dx, dy = points[j][0] - points[k][0], points[j][1] - points[k][1]
        seg = math.hypot(dx, dy) or 1.0
        down = max(0.0, dy / seg)
        out.append((x, y, max(0.25, base * (0.65 + 0.55 * down + drift(i * 0.05)))))
    # Ballpoint strokes start and end light.
    n = len(out)
    for i in range(min(4, n // 2)):
        f = 0.45 + 0.55 * i / 4
        out[i] = (out[i][0], out[i][1], out[i][2] * f)
        out[n - 1 - i] = (out[n - 1 - i][0], out[n - 1 - i][1], out[n - 1 - i][2] * f)
    return out


def _word(rng, x, baseline, xheight, letters, capital):
    """One cursive word as a looped trochoid: each turn is a letter."""
    slant = rng.uniform(0.1, 0.5)
    drift = _wobble(rng, amplitude=xheight * 0.25)
    pts = []
    for li in range(letters):
        tall = (li == 0 and capital) or rng.random() < 0.22
        low = not tall and rng.random() < 0.1
        amp = xheight * (rng.uniform(1.8, 2.7) if tall else rng.uniform(0.6, 1.15))
        step = xheight * rng.uniform(0.55, 1.05)
        loop = step / (2 * math.pi) * rng.uniform(0.4, 2.2)
        samples = 22
        for s in range(samples):
            t = 2 * math.pi * s / samples
            px = x + step * t / (2 * math.pi) + loop * math.sin(t)
            lift = (1 - math.cos(t)) / 2
            py = baseline - amp * lift if not low else baseline + amp * 1.4 * lift
            py += drift(px * 0.08)
            px += slant * (baseline - py)
            pts.append((px, py))
        x += step
    return pts, x


def _flourish(rng, x0, x1, y):
    """An underline or tail swash: a cubic Bezier with a wave."""
    p0 = (x0, y + rng.uniform(-2, 2))
    p3 = (x1, y + rng.uniform(-4, 3))
    p1 = (x0 + (x1 - x0) * 0.3, y + rng.uniform(-6, 6))
    p2 = (x0 + (x1 - x0) * 0.7, y + rng.uniform(-6, 6))
    pts = []
    for i in range(40):
        t = i / 39
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
        pts.append(
            (
                a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
            )
        )
    return pts


def signature(rng, box_w, box_h, pen):
    """A handwritten signature fitted inside a box of box_w x box_h points."""
    xheight = 10.0
    baseline = 30.0
    x = 0.0
    strokes = []
    words = rng.choice([1, 2, 2, 2, 3])
    for wi in range(words):
        if wi == 0 and words > 1 and rng.random() < 0.4:
            letters = 1  # an initial
        else:
            letters = rng.randint(3, 8)
        pts, x = _word(rng, x, baseline, xheight, letters, capital=True)
        strokes.append(_widths(pts, pen, rng))
        if letters == 1:
            strokes.append(_widths(_dot(rng, x + 2, baseline), pen, rng))
        x += xheight * rng.uniform(0.8, 1.8)
    if rng.random() < 0.4:
        swash = _flourish(rng, rng.uniform(-5, 10), x * rng.uniform(0.7, 1.05), baseline + 6)
        strokes.append(_widths(swash, pen * 0.8, rng))
    mark = Mark(strokes)
    return _fit(rng, mark, box_w, box_h)


def _dot(rng, x, y):
    return [(x + rng.uniform(-0.5, 0.5), y + rng.uniform(-0.5, 0.5)) for _ in range(3)]


def _fit(rng, mark, box_w, box_h):
    """Scale and place a mark in the lower part of its box, as people sign."""
    x0, y0, x1, y1 = mark.bbox()
    target_w = box_w * rng.uniform(0.4, 0.82)
    scale = min(target_w / max(x1 - x0, 1), box_h * 0.8 / max(y1 - y0, 1))
    w, h = (x1 - x0) * scale, (y1 - y0) * scale
    left = rng.uniform(box_w * 0.03, max(box_w * 0.03, box_w - w - box_w * 0.03))
    top = rng.uniform(max(2.0, box_h - h - 4 - box_h * 0.25), max(2.0, box_h - h - 3))
    return mark.transformed(scale, left - x0 * scale, top - y0 * scale)


def smudge(rng, box_w, box_h):
    """A dot or a small blot: ink in the box that is no signature."""
    cx = rng.uniform(box_w * 0.1, box_w * 0.9)
    cy = rng.uniform(box_h * 0.3, box_h * 0.85)
    radius = rng.uniform(1.0, 4.5)
    blobs = [_blob(rng, cx, cy, radius)]
    for _ in range(rng.randint(0, 2)):
        blobs.append(
            _blob(rng, cx + rng.uniform(-8, 8), cy + rng.uniform(-5, 5), rng.uniform(0.4, 1.0))
        )
    return Mark(blobs=blobs)


def _blob(rng, cx, cy, radius):
    n = 14
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        r = radius * rng.uniform(0.7, 1.25)
        pts.append((cx + r * math.cos(a), cy + 0.8 * r * math.sin(a)))
    return pts


def tick(rng, style, size, pen):
    """A ticked checkbox of side `size`: an X, a check mark or a filled box."""
    j = lambda v: v + rng.uniform(-0.08, 0.08) * size  # noqa: E731
    if style == "x":
        a = _line(rng, (j(0.15 * size), j(0.15 * size)), (j(0.85 * size), j(0.9 * size)))
        b = _line(rng, (j(0.85 * size), j(0.12 * size)), (j(0.15 * size), j(0.88 * size)))
        return Mark([_widths(a, pen, rng), _widths(b, pen, rng)])
    if style == "check":
        pts = _line(rng, (j(0.12 * size), j(0.5 * size)), (j(0.4 * size), j(0.85 * size)))
        pts += _line(rng, pts[-1], (j(0.95 * size), j(0.02 * size)))[1:]
        return Mark([_widths(pts, pen * 1.1, rng)])
    inset = rng.uniform(0.12, 0.22) * size
    square = [
        (j(inset), j(inset)),
        (j(size - inset), j(inset)),
        (j(size - inset), j(size - inset)),
        (j(inset), j(size - inset)),
    ]
    return Mark(blobs=[square])


def _line(rng, p, q, samples=12):
    """A slightly bowed hand-drawn line from p to q."""
    bow = rng.uniform(-0.06, 0.06)
    nx, ny = -(q[1] - p[1]), q[0] - p[0]
    pts = []
    for i in range(samples):
        t = i / (samples - 1)
        b = bow * 4 * t * (1 - t)
        pts.append((p[0] + (q[0] - p[0]) * t + nx * b, p[1] + (q[1] - p[1]) * t + ny * b))
    return pts
