//! Plane geometry between the layout (points, y down) and page pixels:
//! the affine map registration finds, sampling a zone through it, and
//! putting a scanned image the right way up as its page shows it.

use image::GrayImage;

use super::layout::Rect;
use super::pdf::Matrix;

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

    /// The least-squares affine map taking each `from` point to its `to`
    /// point; needs three points or more, not all on one line.
    pub fn fit(from: &[(f64, f64)], to: &[(f64, f64)]) -> Option<Affine> {
        if from.len() < 3 || from.len() != to.len() {
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
/// did. Outside the page is paper (white).
pub fn sample(page: &GrayImage, to_pixel: &Affine, zone: &Rect, px_per_pt: f64) -> GrayImage {
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
    let mut out = Vec::with_capacity((w * h) as usize);
    for j in 0..h {
        let y = zone.y0 + (j as f64 + 0.5) * step;
        let (mut u, mut v) = to_pixel.apply((zone.x0 + 0.5 * step, y));
        let (du, dv) = (to_pixel.a * step, to_pixel.d * step);
        for _ in 0..w {
            // Bilinear interpolation between the four nearest pixel centres.
            let (fx, fy) = (u - 0.5, v - 0.5);
            let (x0, y0) = (fx.floor(), fy.floor());
            let (tx, ty) = (fx - x0, fy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
            let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
            out.push((top * (1.0 - ty) + bottom * ty).round() as u8);
            u += du;
            v += dv;
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Turns a decoded image so that it appears as on its page: the placement
/// matrix may rotate or mirror it, and the page may be displayed rotated.
/// Only quarter turns and mirrors are undone here; the few degrees of a
/// skewed scan are left to registration.
pub fn orient(image: GrayImage, placement: &Matrix, rotate: i64) -> GrayImage {
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
    if col_x == row_x {
        return image; // a degenerate placement: keep the image as stored
    }
    if col_x && col_pos && row_pos {
        return image;
    }
    let (w, h) = (image.width(), image.height());
    let (ow, oh) = if col_x { (w, h) } else { (h, w) };
    let mut out = GrayImage::new(ow, oh);
    for (c, r, p) in image.enumerate_pixels() {
        let along = |pos: bool, i: u32, n: u32| if pos { i } else { n - 1 - i };
        let (x, y) = if col_x {
            (along(col_pos, c, w), along(row_pos, r, h))
        } else {
            (along(row_pos, r, h), along(col_pos, c, w))
        };
        out.put_pixel(x, y, *p);
    }
    out
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
        assert!(Affine::fit(&from[..2], &to[..2]).is_none());
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
