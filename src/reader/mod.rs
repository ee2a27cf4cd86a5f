//! The form reader: from the bytes of one PDF to a `FormReport`.
//!
//! # How a page is read
//!
//! 1. **Structure** (`pdf`): `lopdf` opens the file, tells encrypted from
//!    damaged, lists the pages and the values of filled AcroForm fields, and
//!    replays each page's content to see whether it is a bare scan (one image
//!    covering the page, nothing else painted except an invisible OCR layer).
//! 2. **Pixels**: a bare scan's image is decoded directly (`decode`: JPEG,
//!    Flate and friends, CCITT G4) and turned as its placement matrix and
//!    `/Rotate` show it (`geometry::orient`). Every other page — typed
//!    vector PDFs, AcroForms, pasted signature images, and scans in JBIG2
//!    or JPEG 2000, which poppler decodes — is rendered by poppler's
//!    `pdftoppm` (`render`), at the resolution of a Letter page at 200 dpi.
//!    *Why pdftoppm*: it is the renderer Debian already ships and maintains
//!    for hostile input, it handles every font, shading and image codec,
//!    and running it as a child process under `prlimit` and a watchdog
//!    keeps a crash, a memory bomb or an endless loop out of the daemon.
//!    Scans skip it because decoding one image ourselves costs a fraction
//!    of a full render at the same resolution.
//! 3. **Registration** (`register`, `identify`, `geometry`): the filled
//!    corner squares give first affine maps (two squares are enough); the
//!    QR code (`identify`) read under one of them says which page it is and
//!    which way up. Failing that, the QR code is searched on the whole page
//!    and the corners beside its three finder patterns anchor the map (a
//!    photo may show no square, or one). The map is then fitted by least
//!    squares to the form's own printed box borders, found across where
//!    the map puts them, near the anchors first and then farther, affine
//!    then projective (`geometry::Homography`, for a page tilted toward a
//!    camera), and checked: most borders in the picture must lie within
//!    1.5 pt of it (`Fit::confirmed`). A page not confirmed, or on paper
//!    too dark (`zones::Sight`), is not read: its zones are `unseen`, as is
//!    every zone outside the picture, and the rules ask for the page again
//!    (`incomplete_scan`) instead of calling its fields missing. A page of
//!    the file that is not blank but not identified makes the form's
//!    missing page unseen too. The header text is the last fallback.
//! 4. **Zones** (`zones`): each field is sampled upright through that map
//!    at 3 px/pt (`geometry::sample`), its light evened by the paper's
//!    grey around it (`register::Paper`: a photo's shadow divided out), cleaned of box borders and cut to its
//!    ink, so OCR only ever sees small crops. Text is read by Tesseract
//!    (`ocr`, single-line mode; French for names, French+English with a
//!    whitelist for digits, dates and e-mails). A field is as sure as its
//!    least sure word; under 0.9 other readings must agree (see
//!    `zones::reading_of`), else the field is illegible; a capital I in an
//!    address is settled from the person's names (`address`) once the form
//!    is read. AcroForm values are taken as typed.
//!    Ticks are ink coverage; a signature is enough thin, spread-out ink
//!    that Tesseract does not read confidently as print (`ink`, `zones`).
//!
//! Tesseract's OpenMP threads spin and multiply CPU time on small crops:
//! run the process with `OMP_THREAD_LIMIT=1` (see
//! [`reexec_with_single_thread_ocr`]).
//!
//! Blank pages are skipped, pages may come in any order, and a second
//! page 1 counts as a second form.

mod address;
mod decode;
mod geometry;
mod identify;
mod ink;
mod layout;
mod names;
mod normalise;
mod ocr;
mod pdf;
mod register;
mod render;
mod zones;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use image::GrayImage;

use crate::domain::{FieldId, FormReport, ReadError};
use decode::{decode_image, DecodeError};
use layout::Layout;
pub use ocr::reexec_with_single_thread_ocr;
use pdf::{Page, PageSource, PdfFile};
use register::{register, Overview};

/// Reads DA-100 forms. A trait so that the pipeline can be tested on
/// reports without running OCR.
pub trait FormReader {
    fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError>;

    /// As `read`, giving the file up as unreadable once `deadline` has
    /// passed: what is left of its message's time budget. A reader that is
    /// quick anyway may ignore it.
    fn read_before(&self, pdf: &[u8], deadline: Instant) -> Result<FormReport, ReadError> {
        let _ = deadline;
        self.read(pdf)
    }
}

/// Bounds that keep one hostile file from taking the desk down.
pub(crate) mod limits {
    use std::time::Duration;

    /// Pages in one file; a DA-100 has two, a few forms or blank backs more.
    pub const MAX_PAGES: usize = 20;
    /// Pixels in one page image (a Letter page at 600 dpi is 33.7 M).
    pub const MAX_PAGE_PIXELS: u64 = 40_000_000;
    /// Longest side of a JPEG we agree to decode.
    pub const MAX_IMAGE_SIDE: usize = 12_000;
    /// Decompressed bytes of one stream: a page of RGB samples at the
    /// pixel limit.
    pub const MAX_STREAM_BYTES: usize = 3 * MAX_PAGE_PIXELS as usize;
    /// Decoded bytes of one page's content streams read to tell a bare scan
    /// (a scan's is a few dozen bytes, an OCR text layer some kilobytes);
    /// a longer page is rendered instead.
    pub const MAX_CONTENT_BYTES: usize = 2 * 1024 * 1024;
    /// Operations of one page replayed, and `q` saves open at once (PDF
    /// readers stop at 28), under the same rule.
    pub const MAX_CONTENT_OPERATIONS: usize = 100_000;
    pub const MAX_SAVE_DEPTH: usize = 64;
    /// Nesting of page trees and field hierarchies.
    pub const MAX_TREE_DEPTH: usize = 32;
    /// Wall-clock time for one page render.
    pub const RENDER_TIME: Duration = Duration::from_secs(20);
    /// Address space for the renderer process.
    pub const RENDER_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;
    /// Time for a whole file, checked between pages.
    pub const FILE_TIME: Duration = Duration::from_secs(60);
}

/// A value a person gave for field `id`, normalised as the reader
/// normalises what it reads (see `check --json`); `None` for a value that
/// cannot take its field's shape.
pub fn normalise_value(id: FieldId, raw: &str) -> Option<String> {
    let (_, kind) = typed_zones().iter().find(|(zone, _)| zone == id.as_str())?;
    normalise::normalise(*kind, raw)
}

fn typed_zones() -> &'static [(String, layout::Kind)] {
    static ZONES: std::sync::LazyLock<Vec<(String, layout::Kind)>> =
        std::sync::LazyLock::new(|| {
            Layout::embedded()
                .map(|l| l.fields)
                .unwrap_or_default()
                .into_iter()
                .filter(|z| !matches!(z.kind, layout::Kind::Checkbox | layout::Kind::Signature))
                .map(|z| (z.id, z.kind))
                .collect()
        });
    &ZONES
}

/// Resolution at which pages that are not bare scans are rendered.
const RENDER_DPI: u32 = 200;

/// The DA-100 reader. Cheap to share: engines live per thread.
pub struct Da100Reader {
    layout: Layout,
}

impl Da100Reader {
    /// Loads the embedded layout and starts this thread's Tesseract engines
    /// (French, French+English): a missing language pack shows here.
    pub fn new() -> anyhow::Result<Self> {
        let layout = Layout::embedded()?;
        ocr::start_engines()?;
        Ok(Da100Reader { layout })
    }
}

impl FormReader for Da100Reader {
    fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError> {
        self.read_before(pdf, Instant::now() + limits::FILE_TIME)
    }

    fn read_before(&self, pdf: &[u8], deadline: Instant) -> Result<FormReport, ReadError> {
        let deadline = deadline.min(Instant::now() + limits::FILE_TIME);
        // Every decoder used is checked code, but a panic in a dependency
        // on hostile bytes must still end as an unreadable file. It is a
        // bug all the same: logged as an error (the caller's span names the
        // message), the panic's own text just before it on stderr.
        catch_unwind(AssertUnwindSafe(|| self.read_file(pdf, deadline))).unwrap_or_else(|_| {
            tracing::error!("bug: the form reader panicked; the file is answered as unreadable");
            Err(ReadError::Unreadable(
                "the reader failed on this file".into(),
            ))
        })
    }
}

/// A page image with its nominal resolution.
struct PageImage {
    pixels: GrayImage,
    /// Pixels per layout point if the image holds one Letter page; only a
    /// first guess for registration, since PDF page sizes of scans lie.
    px_per_pt: f64,
    /// For rendered pages: the crop box rendered and pixels per PDF point,
    /// to place AcroForm widgets.
    rendered_from: Option<([f64; 4], f64)>,
}

/// Letter, in points: the page the layout describes.
const LETTER_PT: (f64, f64) = (612.0, 792.0);

fn nominal_px_per_pt(image: &GrayImage) -> f64 {
    (image.width() as f64 * image.height() as f64 / (LETTER_PT.0 * LETTER_PT.1)).sqrt()
}

impl Da100Reader {
    fn read_file(&self, bytes: &[u8], deadline: Instant) -> Result<FormReport, ReadError> {
        let file = PdfFile::open(bytes)?;
        let pages = file.pages()?;
        let mut report = FormReport {
            pages: pages.len() as u32,
            ..FormReport::default()
        };
        let mut seen = vec![0u32; self.layout.pages as usize];
        let mut doubts = Vec::new();
        // Pages with ink on them that no registration or code made a page
        // of the form: too dark, blurred or cut to be read.
        let mut unidentified = 0;
        for page in &pages {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadError::Unreadable("reading took too long".into()));
            }
            let image = page_image(&file, bytes, page, left)?;
            let overview = Overview::of(&image.pixels, image.px_per_pt);
            if overview.is_blank() {
                continue;
            }
            let squares = register(&self.layout, &image.pixels, &overview, image.px_per_pt);
            let Some(found) =
                identify::identify(&self.layout, &image.pixels, image.px_per_pt, &squares)
            else {
                unidentified += 1;
                continue;
            };
            let Some(count) = seen.get_mut(usize::from(found.page) - 1) else {
                continue;
            };
            *count += 1;
            if *count == 1 {
                let by_borders = |found: &identify::Found| {
                    register::by_borders(
                        &self.layout,
                        found.page,
                        &image.pixels,
                        found.to_pixel,
                        &found.anchors,
                    )
                };
                let mut fit = by_borders(&found);
                if !fit.confirmed() {
                    // A stray mark taken for a corner square misleads the
                    // squares' map: the QR code's own finder patterns may
                    // do better.
                    let again = identify::qr_anywhere(
                        &self.layout,
                        &image.pixels,
                        image.px_per_pt,
                        &squares.anywhere,
                    )
                    .filter(|other| other.page == found.page)
                    .map(|other| by_borders(&other));
                    if let Some(again) = again.filter(|a| a.found > fit.found) {
                        fit = again;
                    }
                }
                let sight = zones::Sight::of(&fit);
                let widgets =
                    zones::widget_values(&self.layout, found.page, &fit.to_pixel, page, &image);
                let picture = zones::Picture {
                    pixels: &image.pixels,
                    paper: register::Paper::of(&overview),
                };
                zones::read_page(
                    &self.layout,
                    found.page,
                    &picture,
                    &fit.to_pixel,
                    sight,
                    &widgets,
                    &mut report,
                    &mut doubts,
                );
            }
        }
        zones::settle_doubts(&mut report, doubts);
        report.forms = seen.iter().copied().max().unwrap_or(0);
        if report.forms == 1 && unidentified > 0 {
            // One form, a page of it not found, and a page that could be
            // it: that page is to be scanned again, not its fields filled.
            for (n, _) in seen.iter().enumerate().filter(|(_, &c)| c == 0) {
                let page_no = n as u8 + 1;
                for zone in self.layout.zones_of(page_no) {
                    report.unseen.insert(zone.id.clone(), u32::from(page_no));
                }
            }
        }
        if report.forms == 0 {
            return Err(ReadError::UnknownForm);
        }
        report.ticked.sort_by_key(|code| {
            self.layout
                .fields
                .iter()
                .position(|z| z.service_code() == Some(code))
        });
        Ok(report)
    }
}

/// The structure and pixel layers alone, without registration or OCR: opens
/// the file, classifies its pages and decodes each bare scan (other pages
/// are not rendered). Cheap enough for the fuzz harness to run on thousands
/// of inputs; returns how many scans were decoded.
pub fn inspect(pdf: &[u8]) -> Result<usize, ReadError> {
    let file = PdfFile::open(pdf)?;
    let mut decoded = 0;
    for page in file.pages()? {
        if let PageSource::Scanned(placed) = &page.source {
            match decode_image(&file, placed.stream) {
                Ok(raw) => {
                    geometry::orient(raw, &placed.matrix, page.rotate);
                    decoded += 1;
                }
                Err(DecodeError::Unsupported(_)) => {}
                Err(DecodeError::Corrupt(why)) => return Err(ReadError::Unreadable(why)),
            }
        }
    }
    Ok(decoded)
}

/// The pixels of a page: its scan decoded directly, or a render given at
/// most `time`.
fn page_image(
    file: &PdfFile,
    bytes: &[u8],
    page: &Page<'_>,
    time: Duration,
) -> Result<PageImage, ReadError> {
    if let PageSource::Scanned(placed) = &page.source {
        match decode_image(file, placed.stream) {
            Ok(raw) => {
                let pixels = geometry::orient(raw, &placed.matrix, page.rotate);
                return Ok(PageImage {
                    px_per_pt: nominal_px_per_pt(&pixels),
                    pixels,
                    rendered_from: None,
                });
            }
            Err(DecodeError::Unsupported(what)) => {
                tracing::debug!("page {}: {what}, rendering instead", page.number);
            }
            Err(DecodeError::Corrupt(why)) => {
                return Err(ReadError::Unreadable(format!(
                    "page {}: {why}",
                    page.number
                )));
            }
        }
    }
    // Render as many pixels as a Letter page at RENDER_DPI would have,
    // whatever size the PDF says its page is.
    let [x0, y0, x1, y1] = page.crop_box;
    let area = ((x1 - x0) * (y1 - y0)).abs().max(1.0);
    let dpi =
        (f64::from(RENDER_DPI) * (LETTER_PT.0 * LETTER_PT.1 / area).sqrt()).clamp(36.0, 1200.0);
    let time = time.min(limits::RENDER_TIME);
    let pixels = render::render_page(bytes, page.number, dpi.round() as u32, time)
        .map_err(|e| ReadError::Unreadable(format!("page {}: {e}", page.number)))?;
    Ok(PageImage {
        px_per_pt: nominal_px_per_pt(&pixels),
        pixels,
        rendered_from: (page.rotate == 0).then_some((page.crop_box, dpi.round() / 72.0)),
    })
}

#[cfg(test)]
mod field_ids {
    use super::*;

    /// `FieldId` names exactly the layout's value fields, in its order.
    #[test]
    fn field_ids_are_the_layouts_value_fields() {
        let layout: Vec<&str> = typed_zones().iter().map(|(id, _)| id.as_str()).collect();
        let ids: Vec<&str> = FieldId::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(layout, ids);
        assert!(FieldId::ALL
            .iter()
            .all(|&f| FieldId::parse(f.as_str()) == Some(f)));
    }
}
