//! Registration: where the form lies on a page image. The four filled
//! corner squares give shift, scale and the few degrees of skew; which way
//! up the form is (a sheet fed upside down) is left to the QR code, since
//! the squares alone are symmetric.

use image::GrayImage;

use super::geometry::Affine;
use super::ink::{Bitmap, INK_BELOW};
use super::layout::Layout;

/// Working resolution for the search, in pixels per point (≈ 54 dpi).
const SEARCH_PX_PER_PT: f64 = 0.75;

/// A page image reduced once for the whole-page searches.
pub struct Overview {
    pub image: GrayImage,
    /// Full-resolution pixels per overview pixel.
    pub factor: u32,
}

impl Overview {
    /// Box-filters the page down to about `SEARCH_PX_PER_PT`, given the
    /// page's nominal resolution.
    pub fn of(page: &GrayImage, px_per_pt: f64) -> Overview {
        let factor = (px_per_pt / SEARCH_PX_PER_PT).floor().max(1.0) as u32;
        let (w, h) = (page.width() / factor, page.height() / factor);
        let raw = page.as_raw();
        let pw = page.width() as usize;
        let mut out = Vec::with_capacity((w * h) as usize);
        let n = factor as usize;
        let mut sums = vec![0u32; w as usize];
        for y in 0..h as usize {
            sums.iter_mut().for_each(|s| *s = 0);
            for row in raw[y * n * pw..].chunks(pw).take(n) {
                for (x, s) in sums.iter_mut().enumerate() {
                    *s += row[x * n..x * n + n].iter().map(|&v| v as u32).sum::<u32>();
                }
            }
            out.extend(sums.iter().map(|&s| (s / (n * n) as u32) as u8));
        }
        Overview {
            image: GrayImage::from_raw(w, h, out).unwrap_or_else(|| GrayImage::new(1, 1)),
            factor,
        }
    }

    /// A page with next to no ink: the back of a duplex scan.
    pub fn is_blank(&self) -> bool {
        let dark = self
            .image
            .as_raw()
            .iter()
            .filter(|&&v| v < INK_BELOW)
            .count();
        (dark as f64) < 0.001 * self.image.as_raw().len() as f64
    }
}

/// The two ways a form can lie on a page once its corners are found.
pub struct Candidates {
    pub upright: Affine,
    pub upside_down: Affine,
}

/// Finds the registration squares and fits layout→pixel maps for both
/// orientations. `None` when the page shows no such squares.
pub fn register(
    layout: &Layout,
    page: &GrayImage,
    overview: &Overview,
    px_per_pt: f64,
) -> Option<Candidates> {
    let side = layout.registration_marks.size_pt * px_per_pt / overview.factor as f64;
    let bitmap = Bitmap::of(&overview.image);
    let squares: Vec<(f64, f64)> = bitmap
        .components()
        .into_iter()
        .filter(|b| {
            let (w, h) = (b.width() as f64, b.height() as f64);
            let fill = b.area as f64 / (w * h);
            w >= 0.6 * side && w <= 1.6 * side && h >= 0.6 * side && h <= 1.6 * side && fill >= 0.7
        })
        .map(|b| {
            (
                (b.x0 + b.x1 + 1) as f64 / 2.0,
                (b.y0 + b.y1 + 1) as f64 / 2.0,
            )
        })
        .collect();
    let (w, h) = (
        overview.image.width() as f64,
        overview.image.height() as f64,
    );
    // The square nearest each corner of the image, in layout order
    // (top-left, top-right, bottom-left, bottom-right).
    let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)];
    let mut found = Vec::new();
    for (i, &(cx, cy)) in corners.iter().enumerate() {
        let in_quadrant =
            |&&(x, y): &&(f64, f64)| (x < w / 2.0) == (cx == 0.0) && (y < h / 2.0) == (cy == 0.0);
        let nearest = squares
            .iter()
            .filter(in_quadrant)
            .min_by(|a, b| dist2(**a, (cx, cy)).total_cmp(&dist2(**b, (cx, cy))));
        if let Some(&p) = nearest {
            let refined = refine(page, p, overview.factor, side);
            found.push((i, refined));
        }
    }
    if found.len() < 3 {
        return None;
    }
    let centres = layout.mark_centres();
    let pixels: Vec<_> = found.iter().map(|&(_, p)| p).collect();
    let fit = |flip: bool| {
        let from: Vec<_> = found
            .iter()
            .map(|&(i, _)| centres[if flip { 3 - i } else { i }])
            .collect();
        Affine::fit(&from, &pixels).filter(|a| plausible(a, &from, &pixels, px_per_pt))
    };
    Some(Candidates {
        upright: fit(false)?,
        upside_down: fit(true)?,
    })
}

fn dist2(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)
}

/// The ink centroid of a square, at full resolution.
fn refine(page: &GrayImage, (x, y): (f64, f64), factor: u32, side: f64) -> (f64, f64) {
    let f = factor as f64;
    let reach = side * f;
    let (cx, cy) = (x * f, y * f);
    let x0 = (cx - reach).max(0.0) as u32;
    let y0 = (cy - reach).max(0.0) as u32;
    let x1 = ((cx + reach) as u32).min(page.width());
    let y1 = ((cy + reach) as u32).min(page.height());
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for yy in y0..y1 {
        for xx in x0..x1 {
            if page.get_pixel(xx, yy).0[0] < INK_BELOW {
                sx += xx as f64 + 0.5;
                sy += yy as f64 + 0.5;
                n += 1.0;
            }
        }
    }
    if n == 0.0 {
        (cx, cy)
    } else {
        (sx / n, sy / n)
    }
}

/// A map worth trusting: the squares land where it says (within a point or
/// two) and the scale is near the page's own.
fn plausible(map: &Affine, from: &[(f64, f64)], to: &[(f64, f64)], px_per_pt: f64) -> bool {
    let scale = map.scale() / px_per_pt;
    let worst = from
        .iter()
        .zip(to)
        .map(|(&p, &q)| dist2(map.apply(p), q).sqrt())
        .fold(0.0, f64::max);
    (0.6..=1.6).contains(&scale) && worst <= 3.0 * px_per_pt
}
