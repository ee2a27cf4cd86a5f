//! Plane geometry between the layout (points, y down) and page pixels:
//! the affine map the corner squares give, the projective map
//! (`Homography`) a photo of a tilted page needs, fitted from points and
//! printed lines, sampling a zone through it, and putting a scanned image
//! the right way up as its page shows it.

use image::GrayImage;

use super::pdf::Matrix;
use crate::reader::layout::Rect;

/// `(x, y) → (a·x + b·y + c, d·x + e·y + f)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Affine {
    pub fn apply(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            self.a * x + self.b * y + self.c,
            self.d * x + self.e * y + self.f,
        )
    }

    /// Mean scale (pixels per point).
    pub fn scale(&self) -> f64 {
        (self.a * self.e - self.b * self.d).abs().sqrt()
    }

    /// The map taking each `from` point to its `to` point: least-squares
    /// affine from three points or more; from two, the rotation, uniform
    /// scale and shift they determine (a page cut by the scanner glass may
    /// show only two of its corner squares).
    pub fn fit(from: &[(f64, f64)], to: &[(f64, f64)]) -> Option<Affine> {
        if from.len() != to.len() {
            return None;
        }
        if let ([p1, p2], [q1, q2]) = (from, to) {
            return Affine::similarity((*p1, *p2), (*q1, *q2));
        }
        if from.len() < 3 {
            return None;
        }
        // Normal equations of [x y 1]·p = target, solved for both targets.
        let mut m = [[0.0f64; 3]; 3];
        let mut rx = [0.0f64; 3];
        let mut ry = [0.0f64; 3];
        for (&(x, y), &(u, v)) in from.iter().zip(to) {
            let row = [x, y, 1.0];
            for i in 0..3 {
                for j in 0..3 {
                    m[i][j] += row[i] * row[j];
                }
                rx[i] += row[i] * u;
                ry[i] += row[i] * v;
            }
        }
        let px = solve3(m, rx)?;
        let py = solve3(m, ry)?;
        Some(Affine {
            a: px[0],
            b: px[1],
            c: px[2],
            d: py[0],
            e: py[1],
            f: py[2],
        })
    }
}

impl Affine {
    fn similarity(
        (p1, p2): ((f64, f64), (f64, f64)),
        (q1, q2): ((f64, f64), (f64, f64)),
    ) -> Option<Affine> {
        // As complex numbers: q = s·(p − p1) + q1, s = (q2 − q1) / (p2 − p1).
        let (px, py) = (p2.0 - p1.0, p2.1 - p1.1);
        let (qx, qy) = (q2.0 - q1.0, q2.1 - q1.1);
        let norm = px * px + py * py;
        if norm < 1e-9 {
            return None;
        }
        let (re, im) = ((qx * px + qy * py) / norm, (qy * px - qx * py) / norm);
        Some(Affine {
            a: re,
            b: -im,
            c: q1.0 - (re * p1.0 - im * p1.1),
            d: im,
            e: re,
            f: q1.1 - (im * p1.0 + re * p1.1),
        })
    }
}

/// A projective map, layout points → page pixels:
/// `(x, y) → ((a·x + b·y + c) / w, (d·x + e·y + f) / w)`, `w = g·x + h·y + 1`.
/// A photo of a page tilted toward the camera needs it: parallel printed
/// lines meet, which no affine map does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    /// Row-major, the last entry 1.
    pub m: [f64; 9],
}

/// One correspondence a homography is fitted to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Match {
    /// A layout point seen at a pixel (a corner square, a QR finder pattern).
    Point((f64, f64), (f64, f64)),
    /// A layout point known to lie on a pixel line `a·u + b·v + c = 0`
    /// (a printed box edge found across, not along).
    OnLine((f64, f64), [f64; 3]),
}

/// How many of the matches' points lie at least `apart` points from one
/// another in the layout (picked greedily). Four far apart fix a
/// projective map; four bunched three in a corner (a QR code's corners
/// and one square) fix it only in name: its perspective swings wildly.
pub fn points_apart(matches: &[Match], apart: f64) -> usize {
    let mut picked: Vec<(f64, f64)> = Vec::new();
    for m in matches {
        if let Match::Point(p, _) = *m {
            if picked
                .iter()
                .all(|&q| (p.0 - q.0).hypot(p.1 - q.1) >= apart)
            {
                picked.push(p);
            }
        }
    }
    picked.len()
}

/// Anchors at least this far apart, in points, count as spread over the
/// page: corner squares are 500 pt and more apart, a QR code's corners 60.
pub const SPREAD_PT: f64 = 150.0;

impl From<Affine> for Homography {
    fn from(a: Affine) -> Homography {
        Homography {
            m: [a.a, a.b, a.c, a.d, a.e, a.f, 0.0, 0.0, 1.0],
        }
    }
}

impl Homography {
    pub fn apply(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let m = &self.m;
        let w = m[6] * x + m[7] * y + m[8];
        let w = if w.abs() < 1e-12 { 1e-12 } else { w };
        (
            (m[0] * x + m[1] * y + m[2]) / w,
            (m[3] * x + m[4] * y + m[5]) / w,
        )
    }

    /// The affine map that agrees with this one near layout point `at`
    /// (its derivative there).
    pub fn local_affine(&self, at: (f64, f64)) -> Affine {
        let (x, y) = at;
        let o = self.apply(at);
        let dx = self.apply((x + 1.0, y));
        let dy = self.apply((x, y + 1.0));
        let (a, d) = (dx.0 - o.0, dx.1 - o.1);
        let (b, e) = (dy.0 - o.0, dy.1 - o.1);
        Affine {
            a,
            b,
            c: o.0 - a * x - b * y,
            d,
            e,
            f: o.1 - d * x - e * y,
        }
    }

    /// The pixel bounding box of a layout rectangle.
    pub fn bounds(&self, r: &Rect) -> Rect {
        let corners =
            [(r.x0, r.y0), (r.x1, r.y0), (r.x0, r.y1), (r.x1, r.y1)].map(|p| self.apply(p));
        let xs = corners.map(|p| p.0);
        let ys = corners.map(|p| p.1);
        Rect {
            x0: xs.iter().copied().fold(f64::INFINITY, f64::min),
            y0: ys.iter().copied().fold(f64::INFINITY, f64::min),
            x1: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            y1: ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// Least squares over the matches (each point gives two equations, each
    /// point on a line one); `None` with fewer than eight equations or
    /// degenerate ones. Both sides are first moved and scaled about their
    /// centre, for a well-conditioned system.
    pub fn fit(matches: &[Match]) -> Option<Homography> {
        Homography::fit_with(matches, true)
    }

    /// As [`Homography::fit`], with no perspective (six unknowns): what
    /// matches spread over a small part of the page can be trusted with.
    pub fn fit_affine(matches: &[Match]) -> Option<Homography> {
        Homography::fit_with(matches, false)
    }

    fn fit_with(matches: &[Match], projective: bool) -> Option<Homography> {
        let unknowns = if projective { 8 } else { 6 };
        let equations: usize = matches
            .iter()
            .map(|m| match m {
                Match::Point(..) => 2,
                Match::OnLine(..) => 1,
            })
            .sum();
        if equations < unknowns {
            return None;
        }
        let layout: Vec<(f64, f64)> = matches
            .iter()
            .map(|m| match *m {
                Match::Point(p, _) | Match::OnLine(p, _) => p,
            })
            .collect();
        let pixels: Vec<(f64, f64)> = matches
            .iter()
            .filter_map(|m| match *m {
                Match::Point(_, q) => Some(q),
                Match::OnLine(..) => None,
            })
            .collect();
        let tl = Normaliser::of(&layout);
        // Pixel lines carry no point: scale pixels as the layout, about the
        // points seen if any.
        let tp = if pixels.len() >= 2 {
            Normaliser::of(&pixels)
        } else {
            Normaliser {
                cx: 0.0,
                cy: 0.0,
                s: tl.s,
            }
        };
        let mut ata = [[0.0f64; 8]; 8];
        let mut atb = [0.0f64; 8];
        let mut add = |row: [f64; 8], rhs: f64| {
            for i in 0..unknowns {
                for j in 0..unknowns {
                    ata[i][j] += row[i] * row[j];
                }
                atb[i] += row[i] * rhs;
            }
        };
        for m in matches {
            match *m {
                Match::Point(p, q) => {
                    let (x, y) = tl.to(p);
                    let (u, v) = tp.to(q);
                    add([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u);
                    add([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v);
                }
                Match::OnLine(p, line) => {
                    let (x, y) = tl.to(p);
                    let [a, b, c] = tp.line(line);
                    add([a * x, a * y, a, b * x, b * y, b, c * x, c * y], -c);
                }
            }
        }
        if !projective {
            for (i, row) in ata.iter_mut().enumerate().skip(6) {
                row[i] = 1.0;
            }
        }
        let h = solve(ata, atb)?;
        // Undo the normalisations: H = Tp⁻¹ · Hn · Tl.
        let hn = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0];
        let m = mul(&mul(&tp.inverse(), &hn), &tl.matrix());
        if m[8].abs() < 1e-12 {
            return None;
        }
        let m = m.map(|v| v / m[8]);
        m.iter().all(|v| v.is_finite()).then_some(Homography { m })
    }
}

/// A similarity that moves points to their centroid and scales them to a
/// mean distance of √2 (Hartley's normalisation).
struct Normaliser {
    cx: f64,
    cy: f64,
    s: f64,
}

impl Normaliser {
    fn of(points: &[(f64, f64)]) -> Normaliser {
        let n = points.len().max(1) as f64;
        let cx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let cy = points.iter().map(|p| p.1).sum::<f64>() / n;
        let spread = points
            .iter()
            .map(|p| ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt())
            .sum::<f64>()
            / n;
        let s = if spread > 1e-9 {
            std::f64::consts::SQRT_2 / spread
        } else {
            1.0
        };
        Normaliser { cx, cy, s }
    }

    fn to(&self, (x, y): (f64, f64)) -> (f64, f64) {
        ((x - self.cx) * self.s, (y - self.cy) * self.s)
    }

    /// A line through the same points after the move: `l · T⁻¹`.
    fn line(&self, [a, b, c]: [f64; 3]) -> [f64; 3] {
        [a / self.s, b / self.s, c + a * self.cx + b * self.cy]
    }

    fn matrix(&self) -> [f64; 9] {
        [
            self.s,
            0.0,
            -self.s * self.cx,
            0.0,
            self.s,
            -self.s * self.cy,
            0.0,
            0.0,
            1.0,
        ]
    }

    fn inverse(&self) -> [f64; 9] {
        [
            1.0 / self.s,
            0.0,
            self.cx,
            0.0,
            1.0 / self.s,
            self.cy,
            0.0,
            0.0,
            1.0,
        ]
    }
}

fn mul(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut out = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            out[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
        }
    }
    out
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..N {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (v, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let rest: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x)
}

/// Cramer's rule; `None` when the points are degenerate.
fn solve3(m: [[f64; 3]; 3], r: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-9 {
        return None;
    }
    let mut out = [0.0; 3];
    for (col, slot) in out.iter_mut().enumerate() {
        let mut mc = m;
        for row in 0..3 {
            mc[row][col] = r[row];
        }
        *slot = det(&mc) / d;
    }
    Some(out)
}

/// Samples the layout rectangle `zone` out of `page` through `to_pixel`, at
/// `px_per_pt`, so the crop comes out upright and unskewed whatever the scan
/// or the camera did. Outside the page is paper (white).
pub fn sample(page: &GrayImage, to_pixel: &Homography, zone: &Rect, px_per_pt: f64) -> GrayImage {
    let w = (zone.width() * px_per_pt).round().max(1.0) as u32;
    let h = (zone.height() * px_per_pt).round().max(1.0) as u32;
    let (pw, ph) = (page.width() as i64, page.height() as i64);
    let raw = page.as_raw();
    let at = |x: i64, y: i64| -> f64 {
        if x < 0 || y < 0 || x >= pw || y >= ph {
            255.0
        } else {
            raw[(y * pw + x) as usize] as f64
        }
    };
    let step = 1.0 / px_per_pt;
    let m = &to_pixel.m;
    let mut out = Vec::with_capacity((w * h) as usize);
    for j in 0..h {
        let (x, y) = (zone.x0 + 0.5 * step, zone.y0 + (j as f64 + 0.5) * step);
        // Homogeneous coordinates, stepped along the row.
        let mut u = m[0] * x + m[1] * y + m[2];
        let mut v = m[3] * x + m[4] * y + m[5];
        let mut q = m[6] * x + m[7] * y + m[8];
        let (du, dv, dq) = (m[0] * step, m[3] * step, m[6] * step);
        for _ in 0..w {
            let inv = if q.abs() < 1e-12 { 0.0 } else { 1.0 / q };
            // Bilinear interpolation between the four nearest pixel centres.
            let (fx, fy) = (u * inv - 0.5, v * inv - 0.5);
            let (x0, y0) = (fx.floor(), fy.floor());
            let (tx, ty) = (fx - x0, fy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
            let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
            out.push((top * (1.0 - ty) + bottom * ty).round() as u8);
            u += du;
            v += dv;
            q += dq;
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Turns a decoded image so that it appears as on its page: the placement
/// matrix may rotate or mirror it, and the page may be displayed rotated.
/// Only quarter turns and mirrors are undone here; the few degrees of a
/// skewed scan are left to registration.
pub fn orient(image: GrayImage, placement: &Matrix, rotate: i64) -> GrayImage {
    let Some(turn) = Turn::of(placement, rotate) else {
        return image; // a degenerate placement: keep the image as stored
    };
    if turn.is_identity() {
        return image;
    }
    let (w, h) = (image.width(), image.height());
    let (ow, oh) = if turn.col_x { (w, h) } else { (h, w) };
    let mut out = GrayImage::new(ow, oh);
    for (c, r, p) in image.enumerate_pixels() {
        let along = |pos: bool, i: u32, n: u32| if pos { i } else { n - 1 - i };
        let (x, y) = if turn.col_x {
            (along(turn.col_pos, c, w), along(turn.row_pos, r, h))
        } else {
            (along(turn.row_pos, r, h), along(turn.col_pos, c, w))
        };
        out.put_pixel(x, y, *p);
    }
    out
}

/// The quarter turn or mirror [`orient`] undoes: whether stored columns
/// run along x once oriented, and whether columns and rows run forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    col_x: bool,
    col_pos: bool,
    row_pos: bool,
}

impl Turn {
    /// `None` for a degenerate placement (kept as stored).
    pub fn of(placement: &Matrix, rotate: i64) -> Option<Turn> {
        // Directions, in display space (y down), in which image columns and rows grow.
        let mut col = (placement[0], -placement[1]);
        let mut row = (-placement[2], placement[3]);
        for _ in 0..(rotate.rem_euclid(360) / 90) {
            col = (-col.1, col.0);
            row = (-row.1, row.0);
        }
        let axis = |(x, y): (f64, f64)| -> (bool, bool) {
            // (along x?, positive?)
            if x.abs() >= y.abs() {
                (true, x >= 0.0)
            } else {
                (false, y >= 0.0)
            }
        };
        let (col_x, col_pos) = axis(col);
        let (row_x, row_pos) = axis(row);
        (col_x != row_x).then_some(Turn {
            col_x,
            col_pos,
            row_pos,
        })
    }

    fn is_identity(&self) -> bool {
        self.col_x && self.col_pos && self.row_pos
    }

    /// Where a point of the stored image, `(column, row)` in pixels of an
    /// image `size` pixels wide and high, lands once oriented.
    pub fn point(&self, (c, r): (f64, f64), (w, h): (f64, f64)) -> (f64, f64) {
        let along = |pos: bool, v: f64, n: f64| if pos { v } else { n - v };
        if self.col_x {
            (along(self.col_pos, c, w), along(self.row_pos, r, h))
        } else {
            (along(self.row_pos, r, h), along(self.col_pos, c, w))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_rotation_and_shift() {
        let truth = Affine {
            a: 0.0,
            b: -2.0,
            c: 100.0,
            d: 2.0,
            e: 0.0,
            f: 5.0,
        };
        let from = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)];
        let to: Vec<_> = from.iter().map(|&p| truth.apply(p)).collect();
        let fitted = Affine::fit(&from, &to).unwrap();
        for (p, q) in from.iter().zip(&to) {
            let r = fitted.apply(*p);
            assert!((r.0 - q.0).abs() < 1e-6 && (r.1 - q.1).abs() < 1e-6);
        }
        assert!((fitted.scale() - 2.0).abs() < 1e-9);
        // Two points: the same rotation and scale.
        let two = Affine::fit(&from[1..3], &to[1..3]).unwrap();
        let r = two.apply(from[3]);
        assert!(
            (r.0 - to[3].0).abs() < 1e-6 && (r.1 - to[3].1).abs() < 1e-6,
            "{two:?}"
        );
        assert!(Affine::fit(&from[..1], &to[..1]).is_none());
    }

    #[test]
    fn homography_fit_recovers_a_tilted_page_from_points_and_lines() {
        let truth = Homography {
            m: [1.9, 0.12, 40.0, -0.05, 2.1, 30.0, 0.0004, -0.0002, 1.0],
        };
        let corners = [(22.0, 22.0), (590.0, 22.0), (22.0, 770.0)];
        let mut matches: Vec<Match> = corners
            .iter()
            .map(|&p| Match::Point(p, truth.apply(p)))
            .collect();
        // Horizontal and vertical printed lines, each found across only.
        for (p, q) in [
            ((100.0, 176.0), (400.0, 176.0)),
            ((300.0, 600.0), (500.0, 600.0)),
            ((60.0, 300.0), (60.0, 700.0)),
        ] {
            let (a, b) = (truth.apply(p), truth.apply(q));
            let line = [b.1 - a.1, a.0 - b.0, b.0 * a.1 - a.0 * b.1];
            let mid = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
            matches.push(Match::OnLine(mid, line));
            matches.push(Match::OnLine(p, line));
        }
        let fitted = Homography::fit(&matches).unwrap();
        for p in [(306.0, 396.0), (580.0, 760.0), (60.0, 176.0)] {
            let (a, b) = (fitted.apply(p), truth.apply(p));
            assert!(
                (a.0 - b.0).abs() < 0.05 && (a.1 - b.1).abs() < 0.05,
                "{p:?} {a:?} {b:?}"
            );
        }
        // Three points alone are too few.
        assert!(Homography::fit(&matches[..3]).is_none());
        // An affine map is a homography.
        let affine = Affine {
            a: 2.0,
            b: 0.1,
            c: 5.0,
            d: -0.1,
            e: 2.0,
            f: 7.0,
        };
        let h = Homography::from(affine);
        assert_eq!(h.apply((10.0, 20.0)), affine.apply((10.0, 20.0)));
    }

    #[test]
    fn orient_undoes_a_quarter_turn_placement() {
        // 2x1 image: left black, right white.
        let img = GrayImage::from_raw(2, 1, vec![0, 255]).unwrap();
        // Placed rotated by 90° counter-clockwise (a=0 b=1 c=-1 d=0).
        let out = orient(img.clone(), &[0.0, 1.0, -1.0, 0.0, 0.0, 0.0], 0);
        assert_eq!(out.dimensions(), (1, 2));
        // Image columns grow upwards on the page: the black pixel ends at the bottom.
        assert_eq!(out.as_raw(), &vec![255, 0]);
        // Upright placement is left alone.
        assert_eq!(orient(img.clone(), &[2.0, 0.0, 0.0, 1.0, 0.0, 0.0], 0), img);
        // The page shown upside down.
        assert_eq!(
            orient(img, &[2.0, 0.0, 0.0, 1.0, 0.0, 0.0], 180).as_raw(),
            &vec![255, 0]
        );
    }
}
