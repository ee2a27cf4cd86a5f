//! Registration: where the form lies on a page image. The four filled
//! corner squares give shift, scale and the few degrees of skew; which way
//! up the form is (a sheet fed upside down) is left to the QR code, since
//! the squares alone are symmetric.

use image::GrayImage;

use super::geometry::{points_apart, sample, Affine, Homography, Match, SPREAD_PT};
use super::ink::{Bitmap, INK_BELOW};
use crate::reader::interpret::Registration;
use crate::reader::layout::{Layout, Rect};

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
        Overview::at(page, px_per_pt, SEARCH_PX_PER_PT)
    }

    /// Box-filters the page down to about `target` pixels per point.
    pub fn at(page: &GrayImage, px_per_pt: f64, target: f64) -> Overview {
        let factor = (px_per_pt / target).floor().max(1.0) as u32;
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

/// The corner squares a page shows, and the first maps they give.
pub struct Squares {
    /// Every whole square on the page, near a corner or not, in page pixels.
    pub anywhere: Vec<(f64, f64)>,
    /// Maps from the squares near the corners, most squares first.
    pub candidates: Vec<Candidate>,
}

/// A first layout→pixel map and the corner squares it was fitted to.
pub struct Candidate {
    pub map: Homography,
    pub anchors: Vec<Match>,
}

/// The paper's grey over a page, coarse (about one value per 8 points):
/// the lightest grey around each place, spread over ±16 points so that a
/// filled box or a word does not pass for paper. A phone photo's shadow and
/// uneven light are divided out of each zone with it.
pub struct Paper {
    image: GrayImage,
    /// Full-resolution pixels per pixel of `image`.
    factor: f64,
}

/// Overview pixels per block of the paper estimate.
const PAPER_BLOCK: u32 = 6;

impl Paper {
    pub fn of(overview: &Overview) -> Paper {
        let (w, h) = overview.image.dimensions();
        let (bw, bh) = (
            w.div_ceil(PAPER_BLOCK).max(1),
            h.div_ceil(PAPER_BLOCK).max(1),
        );
        let mut blocks = GrayImage::new(bw, bh);
        for (x, y, v) in overview.image.enumerate_pixels() {
            let b = blocks.get_pixel_mut(x / PAPER_BLOCK, y / PAPER_BLOCK);
            b.0[0] = b.0[0].max(v.0[0]);
        }
        let mut spread = GrayImage::new(bw, bh);
        for (x, y, out) in spread.enumerate_pixels_mut() {
            let mut best = 0;
            for yy in y.saturating_sub(1)..(y + 2).min(bh) {
                for xx in x.saturating_sub(1)..(x + 2).min(bw) {
                    best = best.max(blocks.get_pixel(xx, yy).0[0]);
                }
            }
            out.0[0] = best;
        }
        Paper {
            image: spread,
            factor: f64::from(overview.factor * PAPER_BLOCK),
        }
    }

    /// `crop`, cut from `zone` through `to_pixel` at `px_per_pt`, with each
    /// pixel divided by the paper's grey where it lies: paper white again
    /// in a shadow, ink as dark beside the paper as it was.
    pub fn even(
        &self,
        mut crop: GrayImage,
        to_pixel: &Homography,
        zone: &Rect,
        px_per_pt: f64,
    ) -> GrayImage {
        let k = 1.0 / self.factor;
        let mut m = to_pixel.m;
        for v in &mut m[..3] {
            *v *= k;
        }
        for v in &mut m[3..6] {
            *v *= k;
        }
        let scaled = Homography { m };
        let paper = sample(&self.image, &scaled, zone, px_per_pt);
        if paper.dimensions() != crop.dimensions() {
            return crop;
        }
        for (v, p) in crop.iter_mut().zip(paper.iter()) {
            let p = u32::from((*p).max(MIN_PAPER));
            *v = (u32::from(*v) * 255 / p).min(255) as u8;
        }
        crop
    }
}

/// Paper is never taken darker than this: below it a page is too dark to
/// read anyway (see `zones::DARK_PAPER`), and dividing by less would only
/// blow up noise.
const MIN_PAPER: u8 = 48;

/// Finds the registration squares and returns the layout→pixel maps they
/// allow, most trustworthy first: every plausible fit of the squares found
/// (all of them, then fewer, down to two), each the right way up and upside
/// down. Two squares are enough for shift, scale and rotation (an A4 glass
/// may cut a Letter page's side off); the QR code then tells the true map.
/// Empty when fewer than two squares show.
pub fn register(layout: &Layout, page: &GrayImage, overview: &Overview, px_per_pt: f64) -> Squares {
    let side = layout.registration_marks.size_pt * px_per_pt / overview.factor as f64;
    let bitmap = Bitmap::of(&overview.image);
    let (bw, bh) = (bitmap.width, bitmap.height);
    let squares: Vec<(f64, f64)> = bitmap
        .components()
        .into_iter()
        .filter(|b| {
            let (w, h) = (b.width() as f64, b.height() as f64);
            let fill = b.area as f64 / (w * h);
            // A square the picture's edge cuts is a part of one: its
            // middle is not the square's.
            let cut = b.x0 == 0 || b.y0 == 0 || b.x1 + 1 >= bw || b.y1 + 1 >= bh;
            !cut && w >= 0.6 * side
                && w <= 1.6 * side
                && h >= 0.6 * side
                && h <= 1.6 * side
                && fill >= 0.75
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
            let map = if chosen.len() == 4 {
                // Four squares fix a projective map exactly: a photo's
                // tilt, which no affine map follows, is in it from the start.
                let anchors: Vec<Match> = from
                    .iter()
                    .zip(&pixels)
                    .map(|(&p, &q)| Match::Point(p, q))
                    .collect();
                Homography::fit(&anchors).filter(|h| plausible_tilt(h, &from, px_per_pt))
            } else {
                Affine::fit(&from, &pixels)
                    .filter(|a| plausible(a, &from, &pixels, px_per_pt))
                    .map(Homography::from)
            };
            if let Some(map) = map {
                let anchors = from
                    .iter()
                    .zip(&pixels)
                    .map(|(&p, &q)| Match::Point(p, q))
                    .collect();
                maps.push(Candidate { map, anchors });
            }
        }
    }
    Squares {
        anywhere: squares
            .iter()
            .map(|&p| refine(page, p, overview.factor, side))
            .collect(),
        candidates: maps,
    }
}

/// How far from its image corner a registration square may lie, as a
/// share of the image's width or height. A phone photo leaves a border
/// around the page: a fifth missed squares lying 0.2 of the frame in, and
/// four seen squares registered pages that three could not (seeds 4242
/// and 777: fine forms asked for a new scan 6 → 4 and 6 → 5).
const CORNER_REACH: f64 = 0.3;

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

/// A projective map from four squares worth trusting: around the
/// squares' middle it scales near the page's own resolution and stretches
/// or shears no more than a page photographed at a slant does (a wrong
/// square bends it far more).
fn plausible_tilt(map: &Homography, from: &[(f64, f64)], px_per_pt: f64) -> bool {
    let n = from.len().max(1) as f64;
    let centre = (
        from.iter().map(|p| p.0).sum::<f64>() / n,
        from.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let local = map.local_affine(centre);
    let distortion = ((local.a - local.e).abs() + (local.b + local.d).abs()) / local.scale();
    (0.6..=1.6).contains(&(local.scale() / px_per_pt)) && distortion <= MAX_TILT_DISTORTION
}

/// How far a photo's perspective may stretch or shear the page around its
/// middle. A page photographed 25° off square is foreshortened by
/// 1 − cos 25° ≈ 0.09 (the generator tilts by σ 9° of pitch and σ 6° of
/// yaw); a square taken from a stray mark bends the map far more.
const MAX_TILT_DISTORTION: f64 = 0.25;

/// A printed straight edge of the form, where the map is checked and
/// refined: a short stretch of a box border, found across (its position
/// along the border says nothing).
#[derive(Debug, Clone, Copy)]
struct Site {
    /// The stretch's middle, in layout points.
    at: (f64, f64),
    /// Whether the border runs along x (the top or bottom of a box).
    horizontal: bool,
    /// Length of the stretch, in points.
    length: f64,
    /// Distance to the nearest other border running the same way beside
    /// it: a search across must stay within half of it, or it may take
    /// that border for this one.
    clearance: f64,
}

/// The box borders of one page, cut in stretches of at most `STRETCH_PT`.
fn sites(layout: &Layout, page: u8) -> Vec<Site> {
    let rects: Vec<Rect> = layout.zones_of(page).map(|z| z.rect).collect();
    let mut out = Vec::new();
    for r in &rects {
        let along = |from: f64, to: f64| -> Vec<(f64, f64)> {
            // Stretches clear of the corners, where the other border crosses.
            let (from, to) = (from + 3.0, to - 3.0);
            let n = ((to - from) / STRETCH_PT).ceil().max(1.0);
            let len = (to - from) / n;
            (0..n as usize)
                .map(|i| (from + (i as f64 + 0.5) * len, len))
                .collect()
        };
        let borders = [
            (true, [r.y0, r.y1], (r.x0, r.x1)),
            (false, [r.x0, r.x1], (r.y0, r.y1)),
        ];
        for (horizontal, across, (from, to)) in borders {
            for c in across {
                for (t, length) in along(from, to) {
                    out.push(Site {
                        at: if horizontal { (t, c) } else { (c, t) },
                        horizontal,
                        length,
                        clearance: clearance(
                            &rects,
                            horizontal,
                            c,
                            (t - length / 2.0, t + length / 2.0),
                        ),
                    });
                }
            }
        }
    }
    out
}

/// Distance from the border at `c` (a y for a horizontal border, an x for
/// a vertical one) spanning `span` to the nearest other border of `rects`
/// running the same way and overlapping that span.
fn clearance(rects: &[Rect], horizontal: bool, c: f64, span: (f64, f64)) -> f64 {
    rects
        .iter()
        .flat_map(|r| {
            let (across, (from, to)) = if horizontal {
                ([r.y0, r.y1], (r.x0, r.x1))
            } else {
                ([r.x0, r.x1], (r.y0, r.y1))
            };
            let overlaps = from < span.1 && to > span.0;
            across
                .into_iter()
                .filter(move |_| overlaps)
                .map(move |other| (other - c).abs())
        })
        .filter(|&d| d > 0.5)
        .fold(f64::INFINITY, f64::min)
}

/// Longest stretch of border measured as one.
const STRETCH_PT: f64 = 40.0;
/// Profile resolution across a border, in samples per point.
const PROFILE_PX_PER_PT: f64 = 2.0;

/// A border found: how far across from where the map put it, the paper's
/// grey beside it and how much darker the line is.
#[derive(Debug, Clone, Copy)]
struct Seen {
    offset: f64,
    paper: f64,
    depth: f64,
}

/// Looks for the border of `site` within `reach` points across of where
/// `map` puts it: the darkest narrow dip of the profile averaged along it.
fn look(page: &GrayImage, map: &Homography, site: &Site, reach: f64) -> Option<Seen> {
    let (x, y) = site.at;
    let half = site.length / 2.0;
    let rect = if site.horizontal {
        Rect {
            x0: x - half,
            y0: y - reach,
            x1: x + half,
            y1: y + reach,
        }
    } else {
        Rect {
            x0: x - reach,
            y0: y - half,
            x1: x + reach,
            y1: y + half,
        }
    };
    let (w, h) = (page.width() as f64, page.height() as f64);
    let corners = [
        (rect.x0, rect.y0),
        (rect.x1, rect.y1),
        (rect.x0, rect.y1),
        (rect.x1, rect.y0),
    ];
    if corners
        .iter()
        .map(|&p| map.apply(p))
        .any(|(u, v)| u < 0.0 || v < 0.0 || u >= w || v >= h)
    {
        return None;
    }
    let strip = sample(page, map, &rect, PROFILE_PX_PER_PT);
    let (sw, sh) = (strip.width() as usize, strip.height() as usize);
    let raw = strip.as_raw();
    let profile: Vec<f64> = if site.horizontal {
        (0..sh)
            .map(|j| {
                raw[j * sw..(j + 1) * sw]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>()
                    / sw as f64
            })
            .collect()
    } else {
        (0..sw)
            .map(|i| (0..sh).map(|j| raw[j * sw + i] as f64).sum::<f64>() / sh as f64)
            .collect()
    };
    let (k, &low) = profile
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let mut sorted = profile.clone();
    sorted.sort_by(f64::total_cmp);
    let paper = sorted[sorted.len() * 3 / 4];
    let depth = paper - low;
    // A line, not a blot: back near the paper within a few points each side.
    let span = (3.0 * PROFILE_PX_PER_PT) as usize;
    let near_paper = |i: usize| profile[i] > low + 0.6 * depth;
    let left = (k.saturating_sub(span)..k).any(near_paper);
    let right = (k + 1..(k + span + 1).min(profile.len())).any(near_paper);
    if !(left && right) || k == 0 || k + 1 == profile.len() {
        return None;
    }
    // Sub-sample position by a parabola through the minimum.
    let (a, b, c) = (profile[k - 1], low, profile[k + 1]);
    let bend = a - 2.0 * b + c;
    let shift = if bend > 1e-9 {
        0.5 * (a - c) / bend
    } else {
        0.0
    };
    let offset = (k as f64 + 0.5 + shift) / PROFILE_PX_PER_PT - reach;
    Some(Seen {
        offset,
        paper,
        depth,
    })
}

/// A line found darker than the paper beside it by this share of the
/// paper's grey is a printed border. Print is black: a sharp scan shows
/// 0.7–0.95; a page blurred over a letter's height smears a 1 pt line to
/// a tenth of that (`blurred_page` in the generator's hard mix).
const MIN_LINE_DEPTH: f64 = 0.3;

/// What registration by the printed borders gives for one page.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub to_pixel: Homography,
    /// Borders inside the picture, and those found where the map puts them.
    pub inside: usize,
    pub found: usize,
    /// Median grey of the paper beside the borders found.
    pub paper: f64,
}

impl Fit {
    /// What interpretation judges the page's sight by.
    pub fn registration(&self) -> Registration {
        Registration {
            inside: self.inside,
            found: self.found,
            paper: self.paper,
        }
    }
}

/// Borders are checked within this distance of the map, in points.
const CHECK_PT: f64 = 1.5;

/// Fits the page's layout→pixel map to its printed box borders, starting
/// from `start` and the `anchors` (corner squares, QR finder patterns):
/// borders near the anchors first, then farther, each round searching a
/// little across where the last fit puts them; affine while the borders
/// used are near, projective once they span the page. Then checks it.
pub fn by_borders(
    layout: &Layout,
    page_no: u8,
    page: &GrayImage,
    start: Homography,
    anchors: &[Match],
) -> Fit {
    let sites = sites(layout, page_no);
    let centre = {
        let pts: Vec<(f64, f64)> = anchors
            .iter()
            .map(|m| match *m {
                Match::Point(p, _) | Match::OnLine(p, _) => p,
            })
            .collect();
        let n = pts.len().max(1) as f64;
        (
            pts.iter().map(|p| p.0).sum::<f64>() / n,
            pts.iter().map(|p| p.1).sum::<f64>() / n,
        )
    };
    // Four points or more: projective from the first round (bunched ones
    // too: seeds 4242 and 777 registered far fewer photos with affine
    // rounds first).
    let points = anchors
        .iter()
        .filter(|m| matches!(m, Match::Point(..)))
        .count();
    let mut map = start;
    // Anchors bunched in one corner (a QR code, a square beside it) map
    // the far side of the page only roughly: the borders are then taken
    // in smaller steps away from them.
    let rounds: &[(f64, f64, bool)] = if points_apart(anchors, SPREAD_PT) >= 3 {
        &SPREAD_ROUNDS
    } else {
        &BUNCHED_ROUNDS
    };
    for &(within, reach, projective) in rounds {
        let fit = |matches: &[Match]| {
            if projective || points >= 4 {
                Homography::fit(matches)
            } else {
                Homography::fit_affine(matches)
            }
        };
        let mut matches = anchors.to_vec();
        for site in sites
            .iter()
            .filter(|s| dist2(s.at, centre).sqrt() <= within)
        {
            if let Some(seen) = look(page, &map, site, reach.min(site.clearance / 2.0)) {
                if seen.depth >= MIN_LINE_DEPTH * seen.paper {
                    matches.push(on_line(&map, site, seen.offset));
                }
            }
        }
        if let Some(next) = fit(&matches) {
            // A border taken for its neighbour pulls the fit off: the
            // borders far from the first fit are dropped and the rest
            // fitted again.
            let kept = without_outliers(&next, &matches);
            map = fit(&kept).unwrap_or(next);
        }
    }
    // The first map stays if the borders agree with it better (a clean
    // scan's squares are already exact).
    let refined = check(page, &sites, map);
    let kept = check(page, &sites, start);
    tracing::debug!(
        page_no,
        inside = refined.inside,
        found = refined.found,
        found_before = kept.found,
        paper = refined.paper,
        map = ?refined.to_pixel.m,
        "registration by the printed borders"
    );
    if refined.found >= kept.found {
        refined
    } else {
        kept
    }
}

/// The matches that agree with `map`: every point, and the borders within
/// `OUTLIER_PT` or three times the median distance of the borders, if more.
fn without_outliers(map: &Homography, matches: &[Match]) -> Vec<Match> {
    let pt = |p: (f64, f64), px: f64| px / map.local_affine(p).scale().max(1e-9);
    let line_distance = |m: &Match| match *m {
        Match::OnLine(p, [a, b, c]) => {
            let (u, v) = map.apply(p);
            Some(pt(p, (a * u + b * v + c).abs()))
        }
        Match::Point(..) => None,
    };
    let mut distances: Vec<f64> = matches.iter().filter_map(line_distance).collect();
    distances.sort_by(f64::total_cmp);
    let median = distances.get(distances.len() / 2).copied().unwrap_or(0.0);
    let limit = OUTLIER_PT.max(3.0 * median);
    // Points are kept unless the borders disagree with one by far: a
    // stray mark taken for a corner square, once enough borders speak.
    let enough_borders = distances.len() >= 4 * matches.len().saturating_sub(distances.len());
    matches
        .iter()
        .filter(|m| match **m {
            Match::Point(p, q) => {
                let (u, v) = map.apply(p);
                !enough_borders || pt(p, (u - q.0).hypot(v - q.1)) <= POINT_OUTLIER_PT.max(limit)
            }
            _ => line_distance(m).is_none_or(|d| d <= limit),
        })
        .copied()
        .collect()
}

/// A corner square or code corner farther than this from a fit the
/// borders make, in points, was no such thing: squares are found within
/// a point or two, and a stray mark taken for one lies far off.
const POINT_OUTLIER_PT: f64 = 6.0;

/// A border farther than this from a fit, in points, is no evidence for
/// it: a neighbouring border or a line of print was taken for it. Printed
/// borders on a sharp page land within half a point of the final map.
const OUTLIER_PT: f64 = 2.0;

/// The rounds of [`by_borders`]: borders within this many points of the
/// anchors, searched this far across, with a projective map or not.
const SPREAD_ROUNDS: [(f64, f64, bool); 5] = [
    (250.0, 14.0, false),
    (450.0, 10.0, false),
    (700.0, 8.0, true),
    (2000.0, 5.0, true),
    (2000.0, 3.0, true),
];
const BUNCHED_ROUNDS: [(f64, f64, bool); 8] = [
    (150.0, 14.0, false),
    (250.0, 12.0, false),
    (350.0, 10.0, false),
    (450.0, 10.0, false),
    (600.0, 8.0, true),
    (800.0, 6.0, true),
    (2000.0, 5.0, true),
    (2000.0, 3.0, true),
];

/// How many of the page's borders in the picture lie where `map` says.
fn check(page: &GrayImage, sites: &[Site], map: Homography) -> Fit {
    let mut inside = 0;
    let mut found = 0;
    let mut papers = Vec::new();
    for site in sites {
        if !in_picture(page, &map, site) {
            continue;
        }
        inside += 1;
        let Some(seen) = look(page, &map, site, 2.0 * CHECK_PT + 1.0) else {
            continue;
        };
        if seen.offset.abs() <= CHECK_PT && seen.depth >= MIN_LINE_DEPTH * seen.paper {
            found += 1;
            papers.push(seen.paper);
        }
    }
    papers.sort_by(f64::total_cmp);
    let paper = papers.get(papers.len() / 2).copied().unwrap_or(0.0);
    Fit {
        to_pixel: map,
        inside,
        found,
        paper,
    }
}

/// Whether the stretch of `site`, and a little around it, shows in the picture.
fn in_picture(page: &GrayImage, map: &Homography, site: &Site) -> bool {
    let (x, y) = site.at;
    let half = site.length / 2.0 + 2.0;
    let ends = if site.horizontal {
        [(x - half, y), (x + half, y)]
    } else {
        [(x, y - half), (x, y + half)]
    };
    ends.iter().all(|&p| {
        let (u, v) = map.apply(p);
        u >= 0.0 && v >= 0.0 && u < page.width() as f64 && v < page.height() as f64
    })
}

/// The border of `site`, found `offset` points across from where `map`
/// puts it, as a pixel line the layout border must map onto.
fn on_line(map: &Homography, site: &Site, offset: f64) -> Match {
    let (x, y) = site.at;
    let (found, along) = if site.horizontal {
        ((x, y + offset), (x + 1.0, y + offset))
    } else {
        ((x + offset, y), (x + offset, y + 1.0))
    };
    let (p, q) = (map.apply(found), map.apply(along));
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let norm = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (a, b) = (dy / norm, -dx / norm);
    Match::OnLine(site.at, [a, b, -(a * p.0 + b * p.1)])
}
