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

mod interpret;
mod layout;
mod perceive;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::domain::{FieldId, FormReport, ReadError};
use layout::Layout;
pub use perceive::{inspect, reexec_with_single_thread_ocr};

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
    interpret::kinds::normalise(*kind, raw)
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

/// The DA-100 reader. Cheap to share: engines live per thread.
pub struct Da100Reader {
    layout: Layout,
}

impl Da100Reader {
    /// Loads the embedded layout and starts this thread's Tesseract engines
    /// (French, French+English): a missing language pack shows here.
    pub fn new() -> anyhow::Result<Self> {
        let layout = Layout::embedded()?;
        perceive::start_engines()?;
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

impl Da100Reader {
    fn read_file(&self, bytes: &[u8], deadline: Instant) -> Result<FormReport, ReadError> {
        let cal = &interpret::CALIBRATION;
        let perceived = perceive::perceive(&self.layout, bytes, deadline, cal)?;
        let today = chrono::Local::now().date_naive();
        let pictures = perceived.pictures();
        interpret::form(
            perceived.seen(&self.layout, &pictures),
            &self.layout,
            cal,
            today,
        )
        .ok_or(ReadError::UnknownForm)
    }
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
