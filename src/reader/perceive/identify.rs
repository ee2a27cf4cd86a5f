//! Which page of which form a page image is, and which way up: the QR code
//! (`DA-100|2024-11|P/N`) under a map the corner squares give, else the QR
//! code found anywhere on the page (its three finder patterns then anchor
//! the map: a photo may show no corner square, or only one), else the
//! printed header (`DA-100 … Page P de 2`) under the squares' map.

use image::GrayImage;
use regex::Regex;
use rxing::BarcodeFormat;
use tesseract::PageSegMode;

use super::geometry::{points_apart, sample, Homography, Match, SPREAD_PT};
use super::ocr;
use super::register::{Overview, Squares};
use crate::reader::layout::Layout;

/// A DA-100 page found on an image.
pub struct Found {
    /// 1-based page of the form.
    pub page: u8,
    /// Layout points → page pixels, the right way up: a first map, for
    /// registration to refine.
    pub to_pixel: Homography,
    /// The points it rests on (corner squares, QR finder patterns).
    pub anchors: Vec<Match>,
    /// Another first map worth a try if `to_pixel` leads nowhere: the
    /// projective one through four anchors bunched together.
    pub other: Option<Homography>,
    /// Found by the QR code searched on the whole page: searching again
    /// would find the same.
    pub by_code: bool,
}

/// Sampling resolution for the QR code and header crops (≈ 288 dpi).
const PX_PER_PT: f64 = 4.0;

/// Tries the candidate maps in turn: the first under which the QR code
/// reads wins; failing that, the QR code anywhere on the page; failing
/// that, the header text under the two best maps.
pub fn identify(
    layout: &Layout,
    page: &GrayImage,
    px_per_pt: f64,
    squares: &Squares,
) -> Option<Found> {
    for c in &squares.candidates {
        if let Some((p, corners)) = qr_page(layout, page, &c.map) {
            let mut anchors = c.anchors.clone();
            anchors.extend(corners);
            let (map, other) = first_map(&anchors);
            return Some(Found {
                page: p,
                to_pixel: map.unwrap_or(c.map),
                anchors,
                other,
                by_code: false,
            });
        }
    }
    if let Some(found) = qr_anywhere(layout, page, px_per_pt, &squares.anywhere) {
        return Some(found);
    }
    for c in squares.candidates.iter().take(2) {
        if let Some(p) = header_page(layout, page, &c.map) {
            return Some(Found {
                page: p,
                to_pixel: c.map,
                anchors: c.anchors.clone(),
                other: None,
                by_code: false,
            });
        }
    }
    None
}

/// The map through every anchor point: projective from four points on,
/// affine below.
/// Four anchors spread over the page give a projective map. Fewer give an
/// affine one; when there are four or more but bunched (a QR code's corners
/// and one square), the projective map through them is the other to try:
/// on a flat scan it is as good, on a photo it may swing wildly.
fn first_map(anchors: &[Match]) -> (Option<Homography>, Option<Homography>) {
    if points_apart(anchors, SPREAD_PT) >= 4 {
        (Homography::fit(anchors), None)
    } else if anchors.len() >= 4 {
        (Homography::fit_affine(anchors), Homography::fit(anchors))
    } else {
        (Homography::fit_affine(anchors), None)
    }
}

/// Layout corners of the QR code next to its three finder patterns, in
/// the order [`corners_in_order`] gives: bottom-left, top-left, top-right.
/// rxing gives these outer corners of the symbol, which the layout box
/// holds edge to edge (measured on `blank.pdf`: the points rxing gives are
/// the box's corners within a third of a point).
fn code_corners(layout: &Layout) -> [(f64, f64); 3] {
    let r = layout.qr_code.rect;
    [(r.x0, r.y1), (r.x0, r.y0), (r.x1, r.y0)]
}

/// The code's three corners beside its finder patterns as bottom-left,
/// top-left, top-right,
/// whatever order the decoder gave: top-left is the corner with the right
/// angle, and the code is not mirrored (top-right, then bottom-left, turn
/// clockwise on the page, y down).
fn corners_in_order(seen: &[(f64, f64)]) -> Option<[(f64, f64); 3]> {
    let d2 = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2);
    // The corner opposite the longest side.
    let opposite = |k: usize| d2(seen[(k + 1) % 3], seen[(k + 2) % 3]);
    let corner = (0..3).max_by(|&i, &j| opposite(i).total_cmp(&opposite(j)))?;
    let top_left = seen[corner];
    let (a, b) = (seen[(corner + 1) % 3], seen[(corner + 2) % 3]);
    let cross = (a.0 - top_left.0) * (b.1 - top_left.1) - (a.1 - top_left.1) * (b.0 - top_left.0);
    let (top_right, bottom_left) = if cross > 0.0 { (a, b) } else { (b, a) };
    Some([bottom_left, top_left, top_right])
}

/// Resolution at which the whole page is searched for the QR code: about
/// 2.5 px per point, so 4–5 px per module.
const QR_SEARCH_PX_PER_PT: f64 = 2.5;

/// The QR code found anywhere on the page: the page it names and a map
/// from the corners beside its three finder patterns (which also say which
/// way up it is).
pub fn qr_anywhere(
    layout: &Layout,
    page: &GrayImage,
    px_per_pt: f64,
    squares: &[(f64, f64)],
) -> Option<Found> {
    let reduced = Overview::at(page, px_per_pt, QR_SEARCH_PX_PER_PT);
    let f = reduced.factor as f64;
    let (w, h) = reduced.image.dimensions();
    let result = rxing::helpers::detect_in_luma(
        reduced.image.into_raw(),
        w,
        h,
        Some(BarcodeFormat::QR_CODE),
    )
    .ok()?;
    let p = parse_payload(layout, result.getText())?;
    let seen: Vec<(f64, f64)> = result
        .getPoints()
        .iter()
        .take(3)
        .map(|p| ((p.x as f64 + 0.5) * f, (p.y as f64 + 0.5) * f))
        .collect();
    let mut anchors = corner_matches(layout, &seen)?;
    let by_code = first_map(&anchors).0?;
    // The code alone spans a few centimetres: a corner square found near
    // where its map puts one pins the map down across the page.
    let reach = SQUARE_REACH * f64::from(page.width().min(page.height()));
    for centre in layout.mark_centres() {
        let (u, v) = by_code.apply(centre);
        let nearest = squares
            .iter()
            .copied()
            .min_by(|a, b| dist(*a, (u, v)).total_cmp(&dist(*b, (u, v))));
        if let Some(q) = nearest.filter(|&q| dist(q, (u, v)) <= reach) {
            anchors.push(Match::Point(centre, q));
        }
    }
    tracing::debug!(
        page = p,
        anchors = anchors.len(),
        "QR code found without the corner squares' map"
    );
    let (map, other) = first_map(&anchors);
    Some(Found {
        page: p,
        to_pixel: map.unwrap_or(by_code),
        other,
        anchors,
        by_code: true,
    })
}

/// How far from where the QR code's map puts it a corner square may be
/// found, as a share of the picture's shorter side: that map is
/// extrapolated from a few centimetres across the page, and corner squares
/// are half a page apart, so a generous reach cannot take one for another.
const SQUARE_REACH: f64 = 0.12;

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// The code's three corners beside its finder patterns, seen at `seen`
/// pixels (in the decoder's order), as matches to their layout points.
fn corner_matches(layout: &Layout, seen: &[(f64, f64)]) -> Option<Vec<Match>> {
    if seen.len() < 3 {
        return None;
    }
    Some(
        code_corners(layout)
            .iter()
            .zip(corners_in_order(seen)?)
            .map(|(&at, px)| Match::Point(at, px))
            .collect(),
    )
}

/// The page the QR code names, read under `to_pixel`, and its corners as
/// matches (where the decoder saw them, through the same map).
fn qr_page(layout: &Layout, page: &GrayImage, to_pixel: &Homography) -> Option<(u8, Vec<Match>)> {
    let area = layout.qr_code.rect.inset(-8.0);
    let crop = sample(page, to_pixel, &area, PX_PER_PT);
    let (w, h) = crop.dimensions();
    let result =
        rxing::helpers::detect_in_luma(crop.into_raw(), w, h, Some(BarcodeFormat::QR_CODE)).ok()?;
    let p = parse_payload(layout, result.getText())?;
    let seen: Vec<(f64, f64)> = result
        .getPoints()
        .iter()
        .take(3)
        .map(|q| {
            to_pixel.apply((
                area.x0 + (q.x as f64 + 0.5) / PX_PER_PT,
                area.y0 + (q.y as f64 + 0.5) / PX_PER_PT,
            ))
        })
        .collect();
    Some((p, corner_matches(layout, &seen).unwrap_or_default()))
}

/// `DA-100|2024-11|P/N` → P, for this form and a page it has.
fn parse_payload(layout: &Layout, payload: &str) -> Option<u8> {
    let mut parts = payload.trim().split('|');
    let (form, version, pages) = (parts.next()?, parts.next()?, parts.next()?);
    if form != layout.form || parts.next().is_some() {
        return None;
    }
    if version != layout.version {
        tracing::warn!(
            "DA-100 version {version}, reading it with the layout of {}",
            layout.version
        );
    }
    let (p, _) = pages.split_once('/')?;
    let p: u8 = p.parse().ok()?;
    (1..=layout.pages).contains(&p).then_some(p)
}

fn header_page(layout: &Layout, page: &GrayImage, to_pixel: &Homography) -> Option<u8> {
    let crop = sample(page, to_pixel, &layout.header.code_box, PX_PER_PT);
    let settings = ocr::Settings {
        whitelist: "",
        mode: PageSegMode::PsmSingleBlock,
        languages: ocr::LANGUAGES,
        dpi: (PX_PER_PT * 72.0) as u32,
    };
    let words = ocr::read(&crop, settings).ok()?;
    let text: String = words.iter().map(|w| w.text.as_str()).collect();
    parse_header(layout, &text)
}

/// Finds `DA-100` and `Page P de N` in header text (spaces removed).
fn parse_header(layout: &Layout, text: &str) -> Option<u8> {
    let code = Regex::new(&format!("(?i){}", regex::escape(&layout.form))).ok()?;
    let label = Regex::new(r"(?i)page([0-9])de([0-9])").ok()?;
    if !code.is_match(text) {
        return None;
    }
    let p: u8 = label.captures(text)?.get(1)?.as_str().parse().ok()?;
    (1..=layout.pages).contains(&p).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_header_name_the_page() {
        let layout = Layout::embedded().unwrap();
        assert_eq!(parse_payload(&layout, "DA-100|2024-11|2/2"), Some(2));
        assert_eq!(parse_payload(&layout, "DA-200|2024-11|1/2"), None);
        assert_eq!(parse_payload(&layout, "DA-100|2024-11|3/2"), None);
        assert_eq!(parse_header(&layout, "DA-100(2024-11)Page1de2"), Some(1));
        assert_eq!(parse_header(&layout, "Page1de2"), None);
    }

    #[test]
    fn code_corners_are_put_in_order_whatever_the_turn() {
        let upright = [(0.0, 10.0), (0.0, 0.0), (10.0, 0.0)];
        // Any order, the same code.
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]] {
            let seen: Vec<_> = order.iter().map(|&i| upright[i]).collect();
            assert_eq!(corners_in_order(&seen), Some(upright));
        }
        // Upside down: bottom-left now at the top right.
        let turned = [(10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        let seen = [turned[2], turned[0], turned[1]];
        assert_eq!(corners_in_order(&seen), Some(turned));
    }
}
