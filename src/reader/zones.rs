//! Reading the zones of one registered page into the report: text fields
//! by OCR (or from AcroForm values), ticks and signatures from their ink.

use std::collections::HashMap;
use std::io::Cursor;

use image::GrayImage;
use tesseract::PageSegMode;

use super::address;
use super::geometry::{sample, Homography};
use super::ink;
use super::layout::{Kind, Layout, Rect, Zone};
use super::names;
use super::normalise::{fits_field, normalise};
use super::ocr::{self, Word};
use super::pdf::{Page, WidgetValue};
use super::register::{Fit, Paper};
use super::PageImage;
use crate::domain::{Crop, FieldReading, FormReport, Party};
use crate::rules::is_valid_email;

/// Resolution of field crops for OCR (≈ 288 dpi: Tesseract reads 10–12 pt
/// text best with capitals 25–35 pixels high).
const OCR_PX_PER_PT: f64 = 3.0;
/// Resolution of signature crops, for judging ink and for the staff e-mail.
const SIGNATURE_PX_PER_PT: f64 = 3.0;
/// A field read with less confidence than this is illegible. Measured on
/// the corpora: wrong values came with up to 0.75, right ones rarely below.
pub const MIN_CONFIDENCE: f32 = 0.80;
/// Two agreeing readings this confident, but not more, call for a third.
const FAIR: f32 = 0.5;
/// A first reading at least this confident is taken without a second one.
const SURE: f32 = 0.90;
/// Share of a checkbox interior that must be inked to count as ticked.
const TICK_COVERAGE: f64 = 0.06;
/// Typed text in a signature box: Tesseract reads every word of it at
/// least this confidently (≈0.95 on print fonts), while it stays below on
/// handwriting, even on handwriting-like fonts (seen up to ≈0.93 for one
/// word, never for all of them).
const TYPED_CONFIDENCE: f32 = 0.90;

/// AcroForm values of this page, by zone id: each widget goes to the zone
/// it covers most. Only for rendered pages, whose pixel geometry is known.
pub fn widget_values(
    layout: &Layout,
    page_no: u8,
    to_pixel: &Homography,
    page: &Page<'_>,
    image: &PageImage,
) -> HashMap<String, WidgetValue> {
    let Some((cb, s)) = image.rendered_from else {
        return HashMap::new();
    };
    let mut values = HashMap::new();
    for widget in &page.widgets {
        let [x0, y0, x1, y1] = widget.rect;
        let px = Rect {
            x0: (x0 - cb[0]) * s,
            y0: (cb[3] - y1) * s,
            x1: (x1 - cb[0]) * s,
            y1: (cb[3] - y0) * s,
        };
        let best = layout
            .zones_of(page_no)
            .map(|z| {
                let zone_px = to_pixel.bounds(&z.rect);
                let share = zone_px.overlap(&px) / (zone_px.width() * zone_px.height()).max(1.0);
                (z, share)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((zone, share)) = best {
            if share >= 0.5 {
                values.insert(zone.id.clone(), widget.value.clone());
            }
        }
    }
    values
}

/// A page's pixels and the paper's grey over them.
pub struct Picture<'a> {
    pub pixels: &'a GrayImage,
    pub paper: Paper,
}

impl Picture<'_> {
    /// A zone cut upright, its light evened (see [`Paper::even`]).
    fn cut(&self, to_pixel: &Homography, zone: &Rect, px_per_pt: f64) -> GrayImage {
        let crop = sample(self.pixels, to_pixel, zone, px_per_pt);
        self.paper.even(crop, to_pixel, zone, px_per_pt)
    }
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

/// Paper darker than this grey, beside the printed borders, is a page too
/// dark to read. The generator's hard mix puts a fine photo's paper at 67
/// or more in the deepest shadow of a vignetted corner (gain 0.5 × 0.7 ×
/// 0.85 under a colour cast), and a `dark_page` at 32 or less (gain 0.11).
const DARK_PAPER: f64 = 56.0;

impl Sight {
    pub fn of(fit: &Fit) -> Sight {
        if fit.confirmed() && fit.paper >= DARK_PAPER {
            Sight::Whole
        } else {
            tracing::debug!(?fit, "page not seen whole");
            Sight::Unsure
        }
    }
}

/// Margin a zone keeps from the picture's edges to count as inside, in
/// points: a zone cut by the frame may have lost a letter.
const EDGE_PT: f64 = 2.0;

/// Whether the zone lies whole inside the picture.
fn inside(page: &GrayImage, to_pixel: &Homography, zone: &Zone) -> bool {
    let b = to_pixel.bounds(&zone.rect.inset(-EDGE_PT));
    b.x0 >= 0.0 && b.y0 >= 0.0 && b.x1 <= page.width() as f64 && b.y1 <= page.height() as f64
}

/// Reads every zone of page `page_no` into `report`. A zone not seen whole
/// (outside the picture, or on a page not seen whole) is not read: it goes
/// to `report.unseen`, unless an AcroForm value gives it.
#[allow(clippy::too_many_arguments)]
pub fn read_page(
    layout: &Layout,
    page_no: u8,
    page: &Picture<'_>,
    to_pixel: &Homography,
    sight: Sight,
    widgets: &HashMap<String, WidgetValue>,
    report: &mut FormReport,
    doubts: &mut Vec<Doubt>,
) {
    for zone in layout.zones_of(page_no) {
        let widget = widgets.get(&zone.id);
        if widget.is_none() && (sight == Sight::Unsure || !inside(page.pixels, to_pixel, zone)) {
            report.unseen.insert(zone.id.clone(), u32::from(page_no));
            continue;
        }
        match zone.kind {
            Kind::Checkbox => {
                let ticked = match widget {
                    Some(WidgetValue::Checked(on)) => *on,
                    _ => {
                        let crop = page.cut(to_pixel, &zone.rect.inset(2.5), OCR_PX_PER_PT);
                        ink::coverage(&crop) >= TICK_COVERAGE
                    }
                };
                if let (true, Some(code)) = (ticked, zone.service_code()) {
                    report.ticked.push(code.to_string());
                }
            }
            Kind::Signature => {
                let crop = page.cut(to_pixel, &zone.rect.inset(2.0), SIGNATURE_PX_PER_PT);
                let signed = is_signed(&crop);
                if let Some(party) = party_of(zone) {
                    match party {
                        Party::Employer => report.signatures.employer = signed,
                        Party::User => report.signatures.user = signed,
                    }
                }
                push_crop(report, zone, &crop);
            }
            Kind::Text | Kind::Digits | Kind::Date | Kind::Email => match widget {
                Some(WidgetValue::Text(value)) => match normalise(zone.kind, value) {
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
                    None => {
                        mark_illegible(report, zone, &page.cut(to_pixel, &zone.rect, OCR_PX_PER_PT))
                    }
                },
                _ => read_field(page, to_pixel, zone, report, doubts),
            },
        }
    }
}

/// The party a signature zone belongs to (`employer.signature` → employer).
fn party_of(zone: &Zone) -> Option<Party> {
    zone.id.split('.').next()?.parse().ok()
}

fn read_field(
    page: &Picture<'_>,
    to_pixel: &Homography,
    zone: &Zone,
    report: &mut FormReport,
    doubts: &mut Vec<Doubt>,
) {
    let crop = page.cut(to_pixel, &zone.rect.inset(1.5), OCR_PX_PER_PT);
    if !ink::holds_writing(&crop, OCR_PX_PER_PT) {
        return;
    }
    let Some(clean) = ink::clean_for_ocr(&crop, OCR_PX_PER_PT) else {
        return mark_illegible(report, zone, &crop);
    };
    let wanted = settings(zone.kind);
    let read = |pass| match pass {
        Pass::First => recognise(&clean, zone, wanted),
        Pass::Smaller => resized_reading(&clean, zone, wanted, (3, 4), ""),
        Pass::Larger => resized_reading(&clean, zone, wanted, (4, 3), wanted.whitelist),
    };
    match reading_of(zone.kind, read) {
        Some(r) if !fits_field(&zone.id, &r.value) => mark_illegible(report, zone, &crop),
        Some(r) if zone.kind == Kind::Email && address::is_doubtful(&r.value) => {
            doubts.push(Doubt {
                zone: zone.clone(),
                reading: r,
                crop,
            });
        }
        Some(r) => {
            report.fields.insert(zone.id.clone(), r);
        }
        None => mark_illegible(report, zone, &crop),
    }
}

/// An address read with a capital I still in it, waiting for the form's
/// names (they may be on another page).
pub struct Doubt {
    zone: Zone,
    reading: FieldReading,
    crop: GrayImage,
}

/// Settles each doubtful address from the same person's names, once the
/// whole form is read; what the names do not settle is illegible.
pub fn settle_doubts(report: &mut FormReport, doubts: Vec<Doubt>) {
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

/// The value of a cleaned field crop, or `None` when the readings do not
/// make it sure. Taken are: one sure reading; two different readings that
/// agree, the better one confident; three that agree, when the two
/// agreeing ones are only fair (long e-mail addresses score low as words,
/// but three readings at three sizes do not make the same mistake by
/// chance); or a confident reading without whitelist that shows what is
/// no address. Two readings that disagree on letters leave the field
/// illegible: a third reading was tried as arbiter, and was seen to side
/// with the wrong one.
///
/// Pure over `read`, which performs one pass (OCR) when asked: passes are
/// asked for only when needed, in the order of [`Pass`].
fn reading_of(
    kind: Kind,
    mut read: impl FnMut(Pass) -> Option<FieldReading>,
) -> Option<FieldReading> {
    let whitelist = settings(kind).whitelist;
    let first = read(Pass::First).map(|r| with_known_accents(kind, r));
    if let Some(first) = first.as_ref().filter(|r| r.confidence >= SURE) {
        return Some(first.clone());
    }
    // Not sure enough: read a second time, differently (smaller, no
    // whitelist). This rescues clean words Tesseract happens to score low,
    // and turns an accent it hesitates on (È or Ë?) into a question for staff.
    let second = with_known_accents(kind, read(Pass::Smaller)?);
    if let Some(first) = &first {
        if let Some(value) = agreement(kind, &first.value, &second.value) {
            // Both readings confuse these the same way: agreement proves
            // nothing, unless the accent is on a known name.
            if value.contains(names::DOUBTFUL) && names::settle_accents(&value).is_none() {
                return None;
            }
            let best = first.confidence.max(second.confidence);
            if best >= MIN_CONFIDENCE {
                return Some(FieldReading {
                    confidence: best,
                    value,
                });
            }
            if best < FAIR {
                return None;
            }
            let third = with_known_accents(kind, read(Pass::Larger)?);
            return agreement(kind, &value, &third.value).map(|value| FieldReading {
                confidence: best.max(third.confidence),
                value,
            });
        }
        // The same letters, in other case (LUC, Luc): the sure reading
        // says which.
        if first.value.to_lowercase() == second.value.to_lowercase() && second.confidence >= SURE {
            return Some(second);
        }
    }
    // The whitelist kept the first reading from showing what is written
    // (`jean(at)bell.net`, `bell,net`); a confident reading without it is
    // the value as written, for the rules to judge.
    if second.confidence >= MIN_CONFIDENCE && !within(whitelist, &second.value) {
        return Some(second);
    }
    // Neither reading is an address (the @ left out): which one is right
    // does not matter, the address is to be corrected. Two readings that
    // both see no address are evidence enough at a fair confidence: the
    // value is only ever used to refuse it.
    let no_address = |r: &FieldReading| !is_valid_email(&r.value);
    if kind == Kind::Email
        && second.confidence >= FAIR
        && no_address(&second)
        && first.as_ref().is_none_or(no_address)
    {
        return Some(second);
    }
    None
}

/// A name read with a doubtful accent on a capital E (Marie-Êve) as the
/// one known name it can be (Marie-Ève); unchanged if there is none, so
/// that the accent still keeps agreement from proving it.
fn with_known_accents(kind: Kind, reading: FieldReading) -> FieldReading {
    if kind != Kind::Text {
        return reading;
    }
    match names::settle_accents(&reading.value) {
        Some(value) => FieldReading { value, ..reading },
        None => reading,
    }
}

/// The value two readings agree on: the same text, or for an address the
/// same text where one reading's doubtful capital I is the other's l or i.
fn agreement(kind: Kind, a: &str, b: &str) -> Option<String> {
    match kind {
        Kind::Email => address::reconcile(a, b),
        _ => (a == b).then(|| a.to_string()),
    }
}

/// The ways a field crop is read, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// As cut, with the kind's whitelist.
    First,
    /// At three quarters of the size, without whitelist.
    Smaller,
    /// At four thirds of the size, with the whitelist.
    Larger,
}

/// The crop read again at `num/den` of its size, with `whitelist`.
fn resized_reading(
    clean: &GrayImage,
    zone: &Zone,
    wanted: ocr::Settings,
    (num, den): (u32, u32),
    whitelist: &'static str,
) -> Option<FieldReading> {
    let resized = image::imageops::resize(
        clean,
        clean.width() * num / den,
        clean.height() * num / den,
        image::imageops::FilterType::Triangle,
    );
    let settings = ocr::Settings {
        whitelist,
        dpi: wanted.dpi * num / den,
        ..wanted
    };
    recognise(&resized, zone, settings)
}

/// Whether every character of `value` is allowed by `whitelist` (an empty
/// whitelist allows all).
fn within(whitelist: &str, value: &str) -> bool {
    whitelist.is_empty() || value.chars().all(|c| whitelist.contains(c))
}

/// One OCR pass over a cleaned field crop, normalised to the field's kind.
fn recognise(clean: &GrayImage, zone: &Zone, settings: ocr::Settings) -> Option<FieldReading> {
    let words = ocr::read(clean, settings).ok()?;
    tracing::debug!(zone = %zone.id, words = words.len(), "field read");
    let confidence = field_confidence(&words)?;
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let raw = text.join(" ");
    let value = match zone.kind {
        // A capital I may be a handwritten l or i: kept, to settle later.
        Kind::Email => address::normalise_keeping_doubts(&raw)?,
        kind => normalise(kind, &raw)?,
    };
    Some(FieldReading { value, confidence })
}

/// A field is as sure as its least sure word.
fn field_confidence(words: &[Word]) -> Option<f32> {
    words.iter().map(|w| w.confidence).reduce(f32::min)
}

fn settings(kind: Kind) -> ocr::Settings {
    let whitelist = match kind {
        Kind::Digits => "0123456789",
        Kind::Date => "0123456789-/.",
        Kind::Email => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-+'",
        _ => "",
    };
    ocr::Settings {
        whitelist,
        mode: PageSegMode::PsmSingleLine,
        languages: match kind {
            // French alone: with English beside it, Tesseract drops accents
            // (Éric → Eric) and stays confident about it.
            Kind::Text => ocr::FRENCH,
            _ => ocr::LANGUAGES,
        },
        dpi: (OCR_PX_PER_PT * 72.0) as u32,
    }
}

/// Enough stroke-like ink, and not a name typed in a font: neither laid
/// out like print nor read confidently as print.
fn is_signed(crop: &GrayImage) -> bool {
    let strokes = ink::strokes(crop, SIGNATURE_PX_PER_PT);
    strokes.look_signed() && !ink::looks_printed(crop, SIGNATURE_PX_PER_PT) && !is_typed(crop)
}

/// Typed text reads cleanly; handwriting does not.
fn is_typed(crop: &GrayImage) -> bool {
    let Some(clean) = ink::clean_for_ocr(crop, SIGNATURE_PX_PER_PT) else {
        return false;
    };
    let settings = ocr::Settings {
        whitelist: "",
        mode: PageSegMode::PsmSingleLine,
        languages: ocr::LANGUAGES,
        dpi: (SIGNATURE_PX_PER_PT * 72.0) as u32,
    };
    let Ok(words) = ocr::read(&clean, settings) else {
        return false;
    };
    tracing::debug!(words = words.len(), "signature box read as text");
    // Flourishes read as dashes or underscores say nothing either way.
    let lettered: Vec<&Word> = words
        .iter()
        .filter(|w| w.text.chars().any(char::is_alphabetic))
        .collect();
    let letters: usize = lettered
        .iter()
        .map(|w| w.text.chars().filter(|c| c.is_alphabetic()).count())
        .sum();
    letters >= 3 && lettered.iter().all(|w| w.confidence >= TYPED_CONFIDENCE)
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

    fn reading(value: &str, confidence: f32) -> FieldReading {
        FieldReading {
            value: value.into(),
            confidence,
        }
    }

    /// `reading_of` over scripted passes; also which passes it asked for.
    fn judge(kind: Kind, passes: &[(Pass, FieldReading)]) -> (Option<String>, Vec<Pass>) {
        let mut asked = Vec::new();
        let value = reading_of(kind, |pass| {
            asked.push(pass);
            passes
                .iter()
                .find(|(p, _)| *p == pass)
                .map(|(_, r)| r.clone())
        })
        .map(|r| r.value);
        (value, asked)
    }

    #[test]
    fn a_sure_first_reading_is_taken_alone() {
        let (value, asked) = judge(Kind::Text, &[(Pass::First, reading("Luc", 0.95))]);
        assert_eq!(value.as_deref(), Some("Luc"));
        assert_eq!(asked, [Pass::First]);
    }

    #[test]
    fn readings_that_disagree_leave_the_field_illegible() {
        let passes = [
            (Pass::First, reading("Perreauit", 0.63)),
            (Pass::Smaller, reading("Perreault", 0.86)),
            (Pass::Larger, reading("Perreauit", 0.84)),
        ];
        assert_eq!(
            judge(Kind::Text, &passes),
            (None, vec![Pass::First, Pass::Smaller])
        );
    }

    #[test]
    fn fair_agreement_needs_a_third_reading() {
        let address = "julie.levesque23@polycliniquechicoutimi.ca";
        let mut passes = vec![
            (Pass::First, reading(address, 0.49)),
            (Pass::Smaller, reading(address, 0.77)),
        ];
        assert_eq!(judge(Kind::Email, &passes).0, None);
        passes.push((Pass::Larger, reading(address, 0.6)));
        assert_eq!(judge(Kind::Email, &passes).0.as_deref(), Some(address));
        // Two readings that agree under `FAIR` are not worth a third.
        let weak = [
            (Pass::First, reading(address, 0.3)),
            (Pass::Smaller, reading(address, 0.4)),
            (Pass::Larger, reading(address, 0.9)),
        ];
        assert_eq!(judge(Kind::Email, &weak).0, None);
    }

    #[test]
    fn confusable_accents_are_settled_by_known_names_only() {
        // Agreement on a doubtful accent proves nothing by itself...
        let unknown = [
            (Pass::First, reading("Êvariste", 0.80)),
            (Pass::Smaller, reading("Êvariste", 0.69)),
        ];
        assert_eq!(judge(Kind::Text, &unknown).0, None);
        // ...but on a known name the accent is the name's.
        let known = [
            (Pass::First, reading("Marie-Êve", 0.80)),
            (Pass::Smaller, reading("Marie-Ëve", 0.69)),
        ];
        assert_eq!(judge(Kind::Text, &known).0.as_deref(), Some("Marie-Ève"));
        let sure = [(Pass::First, reading("Marie-Êve", 0.93))];
        assert_eq!(judge(Kind::Text, &sure).0.as_deref(), Some("Marie-Ève"));
        // Only names: an address keeps what was read.
        let address = [(Pass::First, reading("Êve@x.ca", 0.95))];
        assert_eq!(judge(Kind::Email, &address).0.as_deref(), Some("Êve@x.ca"));
    }

    #[test]
    fn case_is_settled_by_the_sure_reading() {
        let passes = [
            (Pass::First, reading("LUC", 0.74)),
            (Pass::Smaller, reading("Luc", 0.95)),
        ];
        assert_eq!(judge(Kind::Text, &passes).0.as_deref(), Some("Luc"));
        let unsure = [
            (Pass::First, reading("LUC", 0.74)),
            (Pass::Smaller, reading("Luc", 0.85)),
        ];
        assert_eq!(judge(Kind::Text, &unsure).0, None);
    }

    #[test]
    fn what_is_no_address_is_reported_as_written() {
        // The whitelist forced `(at)` into letters the first time.
        let hidden = [
            (Pass::First, reading("marie.roy@globetrotter.net", 0.0)),
            (
                Pass::Smaller,
                reading("marie.roy(at)globetrotter.net", 0.91),
            ),
        ];
        assert_eq!(
            judge(Kind::Email, &hidden).0.as_deref(),
            Some("marie.roy(at)globetrotter.net")
        );
        // The @ left out: neither reading is an address.
        let no_at = [
            (Pass::First, reading("j-parent93hotmail.com", 0.0)),
            (Pass::Smaller, reading("j.parent93hotmail.com", 0.88)),
        ];
        assert_eq!(
            judge(Kind::Email, &no_at).0.as_deref(),
            Some("j.parent93hotmail.com")
        );
        // But a valid first reading keeps a doubtful second from ruling.
        let doubtful = [
            (Pass::First, reading("j.parent93@hotmail.com", 0.7)),
            (Pass::Smaller, reading("j.parent93hotmail.com", 0.88)),
        ];
        assert_eq!(judge(Kind::Email, &doubtful).0, None);
        // Two readings without an address suffice at a fair confidence,
        // not below it.
        let fair = [
            (Pass::First, reading("andree.simard61@bellnet", 0.0)),
            (Pass::Smaller, reading("andree.simard61@bell,net", 0.79)),
        ];
        assert!(judge(Kind::Email, &fair).0.is_some());
        let poor = [
            (Pass::First, reading("andree.simard61@bellnet", 0.0)),
            (Pass::Smaller, reading("andree.simard61@bell,net", 0.4)),
        ];
        assert_eq!(judge(Kind::Email, &poor).0, None);
    }

    #[test]
    fn a_value_the_whitelist_could_not_show_is_told_apart() {
        let email = settings(Kind::Email).whitelist;
        assert!(within(email, "jean.roy@bell.net"));
        assert!(!within(email, "jean.roy(at)bell.net"));
        assert!(!within(email, "jean.roy@bell,net"));
        assert!(within(settings(Kind::Text).whitelist, "Éric (fils)"));
    }
}
