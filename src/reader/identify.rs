//! Which page of which form a registered page image is, and which way up:
//! the QR code (`DA-100|2024-11|P/N`) first, the printed header
//! (`DA-100 … Page P de 2`) when the code cannot be read.

use image::GrayImage;
use regex::Regex;
use rxing::BarcodeFormat;
use tesseract::PageSegMode;

use super::geometry::{sample, Affine};
use super::layout::Layout;
use super::ocr;
use super::register::Candidates;

/// A DA-100 page found on an image.
pub struct Found {
    /// 1-based page of the form.
    pub page: u8,
    /// Layout points → page pixels, the right way up.
    pub to_pixel: Affine,
}

/// Sampling resolution for the QR code and header crops (≈ 288 dpi).
const PX_PER_PT: f64 = 4.0;

pub fn identify(layout: &Layout, page: &GrayImage, candidates: &Candidates) -> Option<Found> {
    let orientations = [candidates.upright, candidates.upside_down];
    for to_pixel in orientations {
        if let Some(p) = qr_page(layout, page, &to_pixel) {
            return Some(Found { page: p, to_pixel });
        }
    }
    for to_pixel in orientations {
        if let Some(p) = header_page(layout, page, &to_pixel) {
            return Some(Found { page: p, to_pixel });
        }
    }
    None
}

fn qr_page(layout: &Layout, page: &GrayImage, to_pixel: &Affine) -> Option<u8> {
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

fn header_page(layout: &Layout, page: &GrayImage, to_pixel: &Affine) -> Option<u8> {
    let crop = sample(page, to_pixel, &layout.header.code_box, PX_PER_PT);
    let settings = ocr::Settings {
        whitelist: "",
        mode: PageSegMode::PsmSingleBlock,
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
