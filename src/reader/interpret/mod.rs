//! Interpret: from what perception saw of a file to the `FormReport`.
//!
//! Pure. It never touches pixels, files, Tesseract or the clock: it asks
//! each zone's [`Look`] for the measures it needs (a checkbox's ink, a
//! signature's strokes, an OCR pass of a field), in the order its policy
//! says, and decides with one [`Calibration`] and the `today` it is given.
//! Tests drive it with scripted looks; perception (`super::perceive`)
//! implements them on a registered page. Asking lazily keeps the cost of a
//! form to what its decisions need: a second OCR pass only for an unsure
//! first one, nothing at all for a zone not seen whole.
//!
//! What is decided here, in this order:
//! 1. whether each page was seen whole (`Sight`), and each zone inside the
//!    picture; a zone not seen is `unseen`, never missing;
//! 2. per zone: ticked, signed, written in, and which reading of a field
//!    is sure (`reading`), checked against what its kind can be (`kinds`);
//! 3. once the form is read, settlers that need other fields (an address's
//!    capital I from the person's names, `address`).

mod address;
mod calibration;
pub mod kinds;
mod names;
mod reading;

use std::io::Cursor;

use chrono::NaiveDate;
use image::GrayImage;

use super::layout::{Kind, Layout, Zone};
use crate::domain::{Crop, FieldReading, FormReport, Party};
pub use calibration::{Calibration, CALIBRATION};
pub use reading::Pass;

/// What perception can tell of one zone, measured when asked.
pub trait Look {
    /// A value typed in an AcroForm field over the zone, if any.
    fn filled(&self) -> Option<Filled>;
    /// How far the zone lies inside the picture, in points (negative when
    /// the frame cuts it).
    fn margin_pt(&self) -> f64;
    /// Share of a checkbox's interior covered by ink.
    fn coverage(&mut self) -> f64;
    /// The ink in a signature box.
    fn strokes(&mut self) -> Strokes;
    /// How the ink in a signature box is laid out (as print or not).
    fn glyphs(&mut self) -> Glyphs;
    /// The words Tesseract reads in a signature box, as print.
    fn typed_words(&mut self) -> Vec<(String, f32)>;
    /// The writing in a text field.
    fn writing(&mut self) -> Writing;
    /// One OCR pass over a text field, normalised to its kind; `None` when
    /// the pass read nothing of that shape.
    fn read(&mut self, pass: Pass) -> Option<FieldReading>;
    /// The zone as a person would look at it, for the staff.
    fn crop(&mut self) -> GrayImage;
    /// What a scanner's invisible OCR text says in the zone, normalised to
    /// the field's kind: one more reading, never enough alone.
    fn text_layer(&self) -> Option<String>;
}

/// An AcroForm value.
#[derive(Debug, Clone, PartialEq)]
pub enum Filled {
    Text(String),
    Checked(bool),
}

/// The ink in a signature box, in points.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Strokes {
    /// Width and height of all the ink.
    pub span: f64,
    pub rise: f64,
    /// Ink, in square points.
    pub area: f64,
    /// Area-weighted mean stroke thickness.
    pub thickness: f64,
    /// The longest single stroke's diagonal.
    pub longest: f64,
}

/// How the ink of a signature box is laid out: letter-sized blobs, their
/// share of the ink, and the share of them standing on one baseline.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Glyphs {
    pub count: usize,
    pub share_of_ink: f64,
    pub on_baseline: f64,
}

/// The writing in a text field: its tallest mark, in points, and its ink,
/// in square points; `readable` when some is left once borders and specks
/// are cleaned away.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Writing {
    pub tallest: f64,
    pub ink: f64,
    pub readable: bool,
}

/// How well a registered page was seen: borders in the picture, borders
/// found where the map puts them, and the paper's grey beside them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Registration {
    pub inside: usize,
    pub found: usize,
    pub paper: f64,
}

/// Whether a registered page shows what is on it well enough for an empty
/// zone to mean an empty field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// The map is confirmed by the printed borders, on paper light enough.
    Whole,
    /// Too dark, too blurred for the borders to show, or not surely
    /// registered: the page is to be scanned again (`incomplete_scan`).
    Unsure,
}

impl Calibration {
    /// The map is confirmed: most borders in the picture lie where it says.
    pub fn confirms(&self, r: &Registration) -> bool {
        r.inside >= self.min_sites && r.found as f64 >= self.confirmed_share * r.inside as f64
    }

    pub fn sight(&self, r: &Registration) -> Sight {
        if self.confirms(r) && r.paper >= self.dark_paper {
            Sight::Whole
        } else {
            Sight::Unsure
        }
    }

    /// Enough connected, thin, spread-out ink to be a signature: not
    /// empty, not a dot, not a blot.
    pub(crate) fn looks_signed(&self, s: &Strokes) -> bool {
        s.span.hypot(s.rise) >= self.signature_spread_pt
            && s.longest >= self.signature_stroke_pt
            && s.area >= self.signature_ink_pt2
            && s.thickness <= self.signature_thickness_pt
    }

    /// Ink laid out like print: many letter-sized blobs on one baseline.
    pub(crate) fn looks_printed(&self, g: &Glyphs) -> bool {
        g.count >= self.printed_min_glyphs
            && g.share_of_ink >= self.printed_glyph_share
            && g.on_baseline >= self.printed_on_baseline
    }

    /// Words read confidently as print: a name typed in a font.
    pub(crate) fn looks_typed(&self, words: &[(String, f32)]) -> bool {
        // Flourishes read as dashes or underscores say nothing either way.
        let lettered: Vec<&(String, f32)> = words
            .iter()
            .filter(|(w, _)| w.chars().any(char::is_alphabetic))
            .collect();
        let letters: usize = lettered
            .iter()
            .map(|(w, _)| w.chars().filter(|c| c.is_alphabetic()).count())
            .sum();
        letters >= self.typed_min_letters
            && lettered.iter().all(|(_, c)| *c >= self.typed_confidence)
    }

    pub(crate) fn holds_writing(&self, w: &Writing) -> bool {
        w.tallest >= self.writing_tall_pt && w.ink >= self.writing_ink_pt2
    }
}

/// One registered page as perception hands it over.
pub struct PageSeen<L> {
    /// The page of the form (1-based).
    pub page: u8,
    pub registration: Registration,
    /// Every zone of that page, with its look.
    pub zones: Vec<(Zone, L)>,
}

/// What perception saw of one file.
pub struct FileSeen<L> {
    /// Pages in the file, blank ones included.
    pub pages: u32,
    /// How many times each page of the form was found (index = page − 1).
    pub found: Vec<u32>,
    /// Pages with ink on them that no registration or code made a page of
    /// the form: too dark, blurred or cut to be read.
    pub unidentified: u32,
    /// The first copy of each form page found.
    pub read: Vec<PageSeen<L>>,
}

/// The report on a file. `None` when no page of a DA-100 was found.
pub fn form<L: Look>(
    file: FileSeen<L>,
    layout: &Layout,
    cal: &Calibration,
    today: NaiveDate,
) -> Option<FormReport> {
    let forms = file.found.iter().copied().max().unwrap_or(0);
    if forms == 0 {
        return None;
    }
    let mut draft = Draft {
        report: FormReport {
            pages: file.pages,
            forms,
            ..FormReport::default()
        },
        doubts: Vec::new(),
    };
    let ctx = Context {
        cal,
        today,
        // A layout whose version names no month sets no lower bound.
        edition: kinds::edition_start(&layout.version).unwrap_or(NaiveDate::MIN),
        labels: layout
            .fields
            .iter()
            .map(|z| crate::fold::letters_and_digits(&z.label))
            .filter(|l| !l.is_empty())
            .collect(),
    };
    for page in file.read {
        let sight = cal.sight(&page.registration);
        if sight == Sight::Unsure {
            tracing::debug!(page = page.page, registration = ?page.registration, "page not seen whole");
        }
        for (zone, mut look) in page.zones {
            let seen = sight == Sight::Whole && look.margin_pt() >= cal.edge_pt;
            if look.filled().is_none() && !seen {
                let page_no = u32::from(page.page);
                draft.report.unseen.insert(zone.id.clone(), page_no);
                continue;
            }
            read_zone(&zone, &mut look, &ctx, &mut draft);
        }
    }
    let Draft { mut report, doubts } = draft;
    settle_doubts(&mut report, doubts);
    if report.forms == 1 && file.unidentified > 0 {
        // One form, a page of it not found, and a page that could be it:
        // that page is to be scanned again, not its fields filled.
        for (n, _) in file.found.iter().enumerate().filter(|(_, &c)| c == 0) {
            let page_no = n as u8 + 1;
            for zone in layout.zones_of(page_no) {
                report.unseen.insert(zone.id.clone(), u32::from(page_no));
            }
        }
    }
    report.ticked.sort_by_key(|code| {
        layout
            .fields
            .iter()
            .position(|z| z.service_code() == Some(code))
    });
    Some(report)
}

/// Reads one zone seen whole (or given by an AcroForm value) into the report.
fn read_zone<L: Look>(zone: &Zone, look: &mut L, ctx: &Context<'_>, draft: &mut Draft) {
    let (cal, report) = (ctx.cal, &mut draft.report);
    let filled = look.filled();
    match zone.kind {
        Kind::Checkbox => {
            let ticked = match filled {
                Some(Filled::Checked(on)) => on,
                _ => {
                    let coverage = look.coverage();
                    tracing::debug!(zone = %zone.id, coverage, "checkbox");
                    coverage >= cal.tick_coverage
                }
            };
            if let (true, Some(code)) = (ticked, zone.service_code()) {
                report.ticked.push(code.to_string());
            }
        }
        Kind::Signature => {
            let strokes = look.strokes();
            let signed = cal.looks_signed(&strokes)
                && !cal.looks_printed(&look.glyphs())
                && !cal.looks_typed(&look.typed_words());
            tracing::debug!(zone = %zone.id, ?strokes, signed, "signature box");
            match party_of(zone) {
                Some(Party::Employer) => report.signatures.employer = signed,
                Some(Party::User) => report.signatures.user = signed,
                None => {}
            }
            push_crop(report, zone, &look.crop());
        }
        Kind::Text | Kind::Digits | Kind::Date | Kind::Email => match filled {
            Some(Filled::Text(value)) => match kinds::normalise(zone.kind, &value) {
                Some(value) => {
                    report.fields.insert(
                        zone.id.clone(),
                        FieldReading {
                            value,
                            confidence: 1.0,
                        },
                    );
                }
                None if value.trim().is_empty() => {}
                None => mark_illegible(report, zone, &look.crop()),
            },
            _ => read_field(zone, look, ctx, draft),
        },
    }
}

/// The report being written, and the addresses waiting for the form's
/// names.
struct Draft {
    report: FormReport,
    doubts: Vec<Doubt>,
}

/// What every zone is judged with.
struct Context<'a> {
    cal: &'a Calibration,
    today: NaiveDate,
    /// The first day of the form's edition.
    edition: NaiveDate,
    /// The form's printed labels, folded to letters and digits.
    labels: Vec<String>,
}

/// The party a zone belongs to (`employer.signature` → employer).
fn party_of(zone: &Zone) -> Option<Party> {
    zone.id.split('.').next()?.parse().ok()
}

fn read_field<L: Look>(zone: &Zone, look: &mut L, ctx: &Context<'_>, draft: &mut Draft) {
    let Draft { report, doubts } = draft;
    let cal = ctx.cal;
    let writing = look.writing();
    tracing::debug!(zone = %zone.id, ?writing, "text field");
    if !cal.holds_writing(&writing) {
        // Traces of ink, too little for writing but more than dust: a
        // light pen lost in a two-tone scan. A person looks; it is not
        // called empty.
        if writing.ink >= cal.writing_trace_pt2 {
            mark_illegible(report, zone, &look.crop());
        }
        return;
    }
    if !writing.readable {
        return mark_illegible(report, zone, &look.crop());
    }
    let layer = look.text_layer();
    let reading = reading::reading_of(zone.kind, cal, layer.as_deref(), |pass| look.read(pass));
    match reading {
        Some(r)
            if !kinds::can_be(&zone.id, zone.kind, &r, cal, ctx.today, ctx.edition)
                || kinds::is_label(&r.value, &ctx.labels) =>
        {
            mark_illegible(report, zone, &look.crop())
        }
        Some(r) if zone.kind == Kind::Email && address::is_doubtful(&r.value) => {
            doubts.push(Doubt {
                zone: zone.clone(),
                reading: r,
                crop: look.crop(),
            });
        }
        Some(r) => {
            report.fields.insert(zone.id.clone(), r);
        }
        None => mark_illegible(report, zone, &look.crop()),
    }
}

/// An address read with a capital I still in it, waiting for the form's
/// names (they may be on another page).
struct Doubt {
    zone: Zone,
    reading: FieldReading,
    crop: GrayImage,
}

/// Settles each doubtful address from the same person's names, once the
/// whole form is read; what the names do not settle is illegible.
fn settle_doubts(report: &mut FormReport, doubts: Vec<Doubt>) {
    for doubt in doubts {
        let party = party_of(&doubt.zone);
        let name = |field: &str| {
            let party = party?.as_str();
            report
                .fields
                .get(&format!("{party}.{field}"))
                .map(|r| r.value.as_str())
        };
        match address::settle(&doubt.reading.value, name("first_name"), name("last_name")) {
            Some(value) => {
                report.fields.insert(
                    doubt.zone.id.clone(),
                    FieldReading {
                        value,
                        confidence: doubt.reading.confidence,
                    },
                );
            }
            None => mark_illegible(report, &doubt.zone, &doubt.crop),
        }
    }
}

fn mark_illegible(report: &mut FormReport, zone: &Zone, crop: &GrayImage) {
    report.illegible.push(zone.id.clone());
    push_crop(report, zone, crop);
}

fn push_crop(report: &mut FormReport, zone: &Zone, crop: &GrayImage) {
    let mut png = Vec::new();
    if crop
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .is_ok()
    {
        report.crops.push(Crop {
            zone: zone.id.clone(),
            png,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zone as a test scripts it: what each question gets, and which
    /// questions were asked.
    #[derive(Default, Clone)]
    struct Scripted {
        margin: f64,
        coverage: f64,
        strokes: Strokes,
        writing: Writing,
        readings: Vec<(Pass, FieldReading)>,
        asked: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Look for Scripted {
        fn filled(&self) -> Option<Filled> {
            None
        }
        fn margin_pt(&self) -> f64 {
            self.margin
        }
        fn coverage(&mut self) -> f64 {
            self.asked.set(self.asked.get() + 1);
            self.coverage
        }
        fn strokes(&mut self) -> Strokes {
            self.asked.set(self.asked.get() + 1);
            self.strokes
        }
        fn glyphs(&mut self) -> Glyphs {
            Glyphs::default()
        }
        fn typed_words(&mut self) -> Vec<(String, f32)> {
            Vec::new()
        }
        fn writing(&mut self) -> Writing {
            self.asked.set(self.asked.get() + 1);
            self.writing
        }
        fn read(&mut self, pass: Pass) -> Option<FieldReading> {
            self.asked.set(self.asked.get() + 1);
            self.readings
                .iter()
                .find(|(p, _)| *p == pass)
                .map(|(_, r)| r.clone())
        }
        fn crop(&mut self) -> GrayImage {
            GrayImage::new(4, 4)
        }
        fn text_layer(&self) -> Option<String> {
            None
        }
    }

    const WHOLE: Registration = Registration {
        inside: 150,
        found: 150,
        paper: 230.0,
    };
    const WRITTEN: Writing = Writing {
        tallest: 8.0,
        ink: 40.0,
        readable: true,
    };

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()
    }

    /// The report on a one-form file whose page 2 is not in it and whose
    /// page 1 zones are all `look`, but for `zone`, which is `special`.
    fn report(
        registration: Registration,
        look: &Scripted,
        zone: &str,
        special: &Scripted,
    ) -> FormReport {
        let layout = Layout::embedded().unwrap();
        let zones = layout
            .zones_of(1)
            .map(|z| {
                (
                    z.clone(),
                    if z.id == zone {
                        special.clone()
                    } else {
                        look.clone()
                    },
                )
            })
            .collect();
        let file = FileSeen {
            pages: 1,
            found: vec![1, 0],
            unidentified: 0,
            read: vec![PageSeen {
                page: 1,
                registration,
                zones,
            }],
        };
        form(file, &layout, &CALIBRATION, today()).unwrap()
    }

    fn read(value: &str, confidence: f32) -> Vec<(Pass, FieldReading)> {
        vec![(
            Pass::First,
            FieldReading {
                value: value.into(),
                confidence,
            },
        )]
    }

    #[test]
    fn a_page_not_seen_whole_is_not_read_and_its_zones_are_unseen_on_it() {
        let unsure = Registration { found: 60, ..WHOLE };
        let blank = Scripted {
            margin: 20.0,
            ..Scripted::default()
        };
        let r = report(unsure, &blank, "", &blank);
        assert!(r.fields.is_empty() && r.illegible.is_empty());
        assert_eq!(r.unseen.get("employer.last_name"), Some(&1));
        assert_eq!(r.unseen.get("employer.signature"), Some(&1));
        assert_eq!(
            blank.asked.get(),
            0,
            "nothing is measured on a page not seen whole"
        );
        let dark = Registration {
            paper: 40.0,
            ..WHOLE
        };
        assert_eq!(
            report(dark, &blank, "", &blank).unseen.len(),
            r.unseen.len()
        );
    }

    #[test]
    fn an_empty_zone_seen_whole_is_empty_but_one_cut_by_the_frame_is_unseen() {
        let blank = Scripted {
            margin: 20.0,
            ..Scripted::default()
        };
        let cut = Scripted {
            margin: 0.5,
            ..Scripted::default()
        };
        let r = report(WHOLE, &blank, "employer.licence", &cut);
        assert_eq!(r.unseen.keys().collect::<Vec<_>>(), ["employer.licence"]);
        assert!(!r.fields.contains_key("employer.last_name"));
        assert!(!r.illegible.contains(&"employer.last_name".to_string()));
    }

    #[test]
    fn ink_that_cannot_be_read_is_illegible_never_missing() {
        let blank = Scripted {
            margin: 20.0,
            ..Scripted::default()
        };
        let smudged = Scripted {
            margin: 20.0,
            writing: Writing {
                readable: false,
                ..WRITTEN
            },
            ..Scripted::default()
        };
        let r = report(WHOLE, &blank, "employer.first_name", &smudged);
        assert_eq!(r.illegible, ["employer.first_name"]);
        assert!(r.unseen.is_empty());
    }

    #[test]
    fn a_sure_value_is_checked_against_what_its_field_can_hold() {
        let blank = Scripted {
            margin: 20.0,
            ..Scripted::default()
        };
        let field = |value: &str| Scripted {
            margin: 20.0,
            writing: WRITTEN,
            readings: read(value, 0.96),
            ..Scripted::default()
        };
        let r = report(WHOLE, &blank, "employer.date", &field("2024-11-20"));
        assert_eq!(
            r.value(crate::domain::FieldId::EmployerDate),
            Some("2024-11-20")
        );
        let r = report(WHOLE, &blank, "employer.date", &field("2094-11-20"));
        assert_eq!(r.illegible, ["employer.date"]);
        let r = report(WHOLE, &blank, "employer.phone", &field("| 418 555-5647"));
        assert_eq!(r.illegible, ["employer.phone"]);
    }

    #[test]
    fn ticks_and_signatures_follow_the_calibration() {
        let blank = Scripted {
            margin: 20.0,
            ..Scripted::default()
        };
        let ticked = Scripted {
            margin: 20.0,
            coverage: CALIBRATION.tick_coverage * 2.0,
            ..Scripted::default()
        };
        let r = report(WHOLE, &blank, "service.PAIE", &ticked);
        assert_eq!(r.ticked, ["PAIE"]);
        let signed = Scripted {
            margin: 20.0,
            strokes: Strokes {
                span: 80.0,
                rise: 20.0,
                area: 60.0,
                thickness: 1.0,
                longest: 40.0,
            },
            ..Scripted::default()
        };
        let r = report(WHOLE, &blank, "employer.signature", &signed);
        assert!(r.signatures.employer && !r.signatures.user);
    }
}
