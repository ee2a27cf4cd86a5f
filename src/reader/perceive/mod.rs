//! Perceive: from the bytes of one PDF to what its pages show — decoded
//! or rendered pixels, registered against the layout, with each zone
//! ready to be cut and measured when interpretation asks (`zones::ZoneLook`).
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
//! 3. **Registration** (`register`, `identify`, `geometry`): the corner
//!    squares give first maps (four of them a projective one, two or three
//!    an affine one); the QR code (`identify`) read under one of them says
//!    which page it is and which way up, and its corners join the anchors.
//!    Failing that, the QR code is searched on the whole page and its
//!    corners, with any whole square near where they put one, anchor the
//!    map (a photo may show no square, or one). The map is then fitted by
//!    least squares to the form's own printed box borders, found across
//!    where the map puts them, near the anchors first and then farther,
//!    each searched within half its distance to the next border and
//!    outliers dropped, affine then projective (`geometry::Homography`),
//!    and measured: how many borders in the picture lie within 1.5 pt of
//!    it, on paper how grey (`interpret::Registration`). The header text
//!    is the last fallback.
//! 4. **Zones** (`zones`): each zone is sampled upright through that map
//!    at 3 px/pt (`geometry::sample`), its light evened by the paper's grey
//!    around it (`register::Paper`: a photo's shadow divided out), cleaned
//!    of box borders and cut to its ink, so OCR only ever sees small crops.
//!
//! Tesseract's OpenMP threads spin and multiply CPU time on small crops:
//! run the process with `OMP_THREAD_LIMIT=1` (see
//! [`reexec_with_single_thread_ocr`]).
//!
//! Blank pages are skipped, pages may come in any order, and a second
//! page 1 counts as a second form.

mod decode;
mod geometry;
mod identify;
mod ink;
mod ocr;
mod pdf;
mod register;
mod render;
mod text_layer;
mod zones;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use image::GrayImage;

use super::interpret::{Calibration, FileSeen, PageSeen};
use crate::domain::ReadError;
use crate::reader::layout::Layout;
use crate::reader::limits;
use decode::{decode_image, DecodeError};
pub use ocr::{reexec_with_single_thread_ocr, start_engines};
use pdf::{Page, PageSource, PdfFile, WidgetValue};
use register::{register, Overview, Paper};
use zones::{Picture, ZoneLook};

/// Resolution at which pages that are not bare scans are rendered.
const RENDER_DPI: u32 = 200;

/// One registered page of the form, kept for its zones to be measured.
struct Registered {
    page: u8,
    image: GrayImage,
    paper: Paper,
    fit: register::Fit,
    widgets: HashMap<String, WidgetValue>,
    text: Vec<text_layer::Run>,
}

/// What perception found in a file, owning the pixels its zones are cut
/// from.
pub struct Perceived {
    pages: u32,
    found: Vec<u32>,
    unidentified: u32,
    registered: Vec<Registered>,
}

/// Opens, decodes or renders, and registers every page of `bytes`, within
/// `deadline`. `cal` says when a registration is confirmed (else the QR
/// code's own map is tried as well).
pub fn perceive(
    layout: &Layout,
    bytes: &[u8],
    deadline: Instant,
    cal: &Calibration,
) -> Result<Perceived, ReadError> {
    let file = PdfFile::open(bytes)?;
    let pages = file.pages()?;
    let mut found = vec![0u32; layout.pages as usize];
    let mut unidentified = 0;
    let mut registered = Vec::new();
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
        let squares = register(layout, &image.pixels, &overview, image.px_per_pt);
        let Some(identified) = identify::identify(layout, &image.pixels, image.px_per_pt, &squares)
        else {
            unidentified += 1;
            continue;
        };
        let Some(count) = found.get_mut(usize::from(identified.page) - 1) else {
            continue;
        };
        *count += 1;
        if *count > 1 {
            continue;
        }
        let by_borders = |found: &identify::Found, start| {
            register::by_borders(layout, found.page, &image.pixels, start, &found.anchors)
        };
        let mut fit = by_borders(&identified, identified.to_pixel);
        let try_start = |fit: &mut register::Fit, found: &identify::Found, start| {
            if !cal.confirms(&fit.registration()) {
                let again = by_borders(found, start);
                if again.found > fit.found {
                    *fit = again;
                }
            }
        };
        // Other starts, tried while the map is not confirmed: the other
        // first map through the same anchors, then the QR code's own (a
        // stray mark taken for a corner square misleads the squares').
        if let Some(start) = identified.other {
            try_start(&mut fit, &identified, start);
        }
        if !identified.by_code && !cal.confirms(&fit.registration()) {
            let by_code =
                identify::qr_anywhere(layout, &image.pixels, image.px_per_pt, &squares.anywhere)
                    .filter(|other| other.page == identified.page);
            if let Some(found) = by_code {
                for start in std::iter::once(found.to_pixel).chain(found.other) {
                    try_start(&mut fit, &found, start);
                }
            }
        }
        let widgets = zones::widget_values(layout, identified.page, &fit.to_pixel, page, &image);
        registered.push(Registered {
            page: identified.page,
            paper: Paper::of(&overview),
            image: image.pixels,
            fit,
            widgets,
            text: image.text,
        });
    }
    Ok(Perceived {
        pages: pages.len() as u32,
        found,
        unidentified,
        registered,
    })
}

impl Perceived {
    /// Each registered page's pixels, paper and map, to cut zones from.
    pub fn pictures(&self) -> Vec<Picture<'_>> {
        self.registered
            .iter()
            .map(|r| Picture {
                pixels: &r.image,
                paper: &r.paper,
                to_pixel: r.fit.to_pixel,
                text: &r.text,
            })
            .collect()
    }

    /// The file as interpretation sees it: each registered page's zones,
    /// to be measured through this perception's pixels.
    pub fn seen<'a>(
        &'a self,
        layout: &'a Layout,
        pictures: &'a [Picture<'a>],
    ) -> FileSeen<ZoneLook<'a>> {
        let read = self
            .registered
            .iter()
            .zip(pictures)
            .map(|(r, picture)| PageSeen {
                page: r.page,
                registration: r.fit.registration(),
                zones: layout
                    .zones_of(r.page)
                    .map(|zone| {
                        let widget = r.widgets.get(&zone.id).cloned();
                        (zone.clone(), ZoneLook::new(picture, zone.clone(), widget))
                    })
                    .collect(),
            })
            .collect();
        FileSeen {
            pages: self.pages,
            found: self.found.clone(),
            unidentified: self.unidentified,
            read,
        }
    }
}

/// A page image with its nominal resolution.
pub struct PageImage {
    pixels: GrayImage,
    /// Pixels per layout point if the image holds one Letter page; only a
    /// first guess for registration, since PDF page sizes of scans lie.
    px_per_pt: f64,
    /// For rendered pages: the crop box rendered and pixels per PDF point,
    /// to place AcroForm widgets.
    rendered_from: Option<([f64; 4], f64)>,
    /// A bare scan's invisible OCR text, placed in `pixels`.
    text: Vec<text_layer::Run>,
}

/// Letter, in points: the page the layout describes.
const LETTER_PT: (f64, f64) = (612.0, 792.0);

fn nominal_px_per_pt(image: &GrayImage) -> f64 {
    (image.width() as f64 * image.height() as f64 / (LETTER_PT.0 * LETTER_PT.1)).sqrt()
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
                let text = if placed.invisible_text {
                    text_layer::runs(file, page, &placed.matrix, raw.dimensions())
                } else {
                    Vec::new()
                };
                tracing::debug!(page = page.number, runs = text.len(), "invisible text");
                let pixels = geometry::orient(raw, &placed.matrix, page.rotate);
                return Ok(PageImage {
                    px_per_pt: nominal_px_per_pt(&pixels),
                    pixels,
                    rendered_from: None,
                    text,
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
        text: Vec::new(),
    })
}
