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

/// Finds the registration squares and returns the layout→pixel maps they
/// allow, most trustworthy first: every plausible fit of the squares found
/// (all of them, then fewer, down to two), each the right way up and upside
/// down. Two squares are enough for shift, scale and rotation (an A4 glass
/// may cut a Letter page's side off); the QR code then tells the true map.
/// Empty when fewer than two squares show.
pub fn register(
    layout: &Layout,
    page: &GrayImage,
    overview: &Overview,
    px_per_pt: f64,
) -> Vec<Affine> {
    let side = layout.registration_marks.size_pt * px_per_pt / overview.factor as f64;
    let bitmap = Bitmap::of(&overview.image);
    let squares: Vec<(f64, f64)> = bitmap
        .components()
        .into_iter()
        .filter(|b| {
            let (w, h) = (b.width() as f64, b.height() as f64);
            let fill = b.area as f64 / (w * h);
            w >= 0.6 * side && w <= 1.6 * side && h >= 0.6 * side && h <= 1.6 * side && fill >= 0.75
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
    // (top-left, top-right, bottom-left, bottom-right), if it is near
    // enough to that corner to be a registration mark.
    let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)];
    let mut found = Vec::new();
    for (i, &(cx, cy)) in corners.iter().enumerate() {
        let near = |&&(x, y): &&(f64, f64)| {
            (x - cx).abs() < CORNER_REACH * w && (y - cy).abs() < CORNER_REACH * h
        };
        let nearest = squares
            .iter()
            .filter(near)
            .min_by(|a, b| dist2(**a, (cx, cy)).total_cmp(&dist2(**b, (cx, cy))));
        if let Some(&p) = nearest {
            found.push((i, refine(page, p, overview.factor, side)));
        }
    }
    tracing::debug!("registration squares near the corners: {found:?}");
    let centres = layout.mark_centres();
    let mut maps = Vec::new();
    for subset in subsets(found.len()) {
        let chosen: Vec<_> = subset.iter().map(|&k| found[k]).collect();
        let pixels: Vec<_> = chosen.iter().map(|&(_, p)| p).collect();
        for flip in [false, true] {
            let from: Vec<_> = chosen
                .iter()
                .map(|&(i, _)| centres[if flip { 3 - i } else { i }])
                .collect();
            if let Some(map) =
                Affine::fit(&from, &pixels).filter(|a| plausible(a, &from, &pixels, px_per_pt))
            {
                maps.push(map);
            }
        }
    }
    maps
}

/// How far from its image corner a registration square may lie, as a
/// share of the image's width or height.
const CORNER_REACH: f64 = 0.2;

/// Index subsets of `0..n` with at least two members, largest first.
fn subsets(n: usize) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> = (0u32..1 << n)
        .map(|bits| (0..n).filter(|&k| bits & (1 << k) != 0).collect::<Vec<_>>())
        .filter(|s| s.len() >= 2)
        .collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all
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

/// A map worth trusting: the squares land where it says (within a few
/// points), the scale is near the page's own, and it neither stretches one
/// way nor shears (paper does not), which rules out a wrong square.
fn plausible(map: &Affine, from: &[(f64, f64)], to: &[(f64, f64)], px_per_pt: f64) -> bool {
    let scale = map.scale() / px_per_pt;
    let distortion = ((map.a - map.e).abs() + (map.b + map.d).abs()) / map.scale();
    if distortion > 0.06 {
        return false;
    }
    let worst = from
        .iter()
        .zip(to)
        .map(|(&p, &q)| dist2(map.apply(p), q).sqrt())
        .fold(0.0, f64::max);
    (0.6..=1.6).contains(&scale) && worst <= 3.0 * px_per_pt
}
