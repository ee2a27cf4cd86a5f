//! Which page of which form a page image is, and which way up: the QR code
//! (`DA-100|2024-11|P/N`) under a map the corner squares give, else the QR
//! code found anywhere on the page (its three finder patterns then anchor
//! the map: a photo may show no corner square, or only one), else the
//! printed header (`DA-100 … Page P de 2`) under the squares' map.

use image::GrayImage;
use regex::Regex;
use rxing::BarcodeFormat;
use tesseract::PageSegMode;

use super::geometry::{sample, Homography, Match};
use super::register::{Candidate, Overview};
use super::layout::Layout;
use super::ocr;

/// A DA-100 page found on an image.
pub struct Found {
    /// 1-based page of the form.
    pub page: u8,
    /// Layout points → page pixels, the right way up: a first map, for
    /// registration to refine.
    pub to_pixel: Homography,
    /// The points it rests on (corner squares, QR finder patterns).
    pub anchors: Vec<Match>,
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
    candidates: &[Candidate],
) -> Option<Found> {
    let found = |p: u8, c: &Candidate| Found {
        page: p,
        to_pixel: c.map.into(),
        anchors: c.anchors.clone(),
    };
    for c in candidates {
        if let Some(p) = qr_page(layout, page, &c.map.into()) {
            return Some(found(p, c));
        }
    }
    if let Some(found) = qr_anywhere(layout, page, px_per_pt) {
        return Some(found);
    }
    for c in candidates.iter().take(2) {
        if let Some(p) = header_page(layout, page, &c.map.into()) {
            return Some(found(p, c));
        }
    }
    None
}

/// Modules across the DA-100's QR code: version 2 (`DA-100|2024-11|P/N` at
/// level M), printed edge to edge of its layout box (measured on
/// `blank.pdf`: finder patterns 7/25 of the box wide).
const QR_MODULES: f64 = 25.0;

/// Layout centres of the QR code's finder patterns, in the order rxing
/// gives them: bottom-left, top-left, top-right.
fn finder_centres(layout: &Layout) -> [(f64, f64); 3] {
    let r = layout.qr_code.rect;
    let inset = 3.5 * r.width() / QR_MODULES;
    [
        (r.x0 + inset, r.y1 - inset),
        (r.x0 + inset, r.y0 + inset),
        (r.x1 - inset, r.y0 + inset),
    ]
}

/// Resolution at which the whole page is searched for the QR code: about
/// 2.5 px per point, so 4–5 px per module.
const QR_SEARCH_PX_PER_PT: f64 = 2.5;

/// The QR code found anywhere on the page: the page it names and a map
/// from its three finder patterns (which also say which way up it is).
fn qr_anywhere(layout: &Layout, page: &GrayImage, px_per_pt: f64) -> Option<Found> {
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
    let points = result.getPoints();
    if points.len() < 3 {
        return None;
    }
    let anchors: Vec<Match> = finder_centres(layout)
        .iter()
        .zip(points)
        .map(|(&at, seen)| Match::Point(at, ((seen.x as f64 + 0.5) * f, (seen.y as f64 + 0.5) * f)))
        .collect();
    let pts: Vec<((f64, f64), (f64, f64))> = anchors
        .iter()
        .filter_map(|m| match *m {
            Match::Point(a, b) => Some((a, b)),
            Match::OnLine(..) => None,
        })
        .collect();
    let (from, to): (Vec<_>, Vec<_>) = pts.into_iter().unzip();
    let map = super::geometry::Affine::fit(&from, &to)?;
    tracing::debug!(page = p, "QR code found without the corner squares");
    Some(Found {
        page: p,
        to_pixel: map.into(),
        anchors,
    })
}

fn qr_page(layout: &Layout, page: &GrayImage, to_pixel: &Homography) -> Option<u8> {
    let crop = sample(page, to_pixel, &layout.qr_code.rect.inset(-8.0), PX_PER_PT);
    let (w, h) = crop.dimensions();
    let result =
        rxing::helpers::detect_in_luma(crop.into_raw(), w, h, Some(BarcodeFormat::QR_CODE)).ok()?;
    parse_payload(layout, result.getText())
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
}
