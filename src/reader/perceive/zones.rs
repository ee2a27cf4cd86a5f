//! The zones of one registered page, cut and measured on demand: the
//! [`Look`] that interpretation asks. Text is read by Tesseract on small
//! upright crops (single-line mode; French for names, French+English with
//! a whitelist for digits, dates and e-mails), ticks and signatures are
//! measured as ink (`ink`). Nothing here decides: every threshold that
//! turns a measure into a conclusion is in `interpret::Calibration`.

use std::collections::HashMap;

use image::GrayImage;
use tesseract::PageSegMode;

use super::geometry::{sample, Homography};
use super::ink;
use super::ocr;
use super::pdf::{Page, WidgetValue};
use super::register::Paper;
use super::text_layer::{text_in, Run};
use super::PageImage;
use crate::domain::FieldReading;
use crate::reader::interpret::{kinds, Filled, Glyphs, Look, Pass, Strokes, Writing};
use crate::reader::layout::{Kind, Layout, Rect, Zone};

/// Resolution of field crops for OCR (≈ 288 dpi: Tesseract reads 10–12 pt
/// text best with capitals 25–35 pixels high), and of signature crops.
const OCR_PX_PER_PT: f64 = 3.0;
/// Borders kept out of a zone's crop, in points: a text field's, a
/// checkbox's and a signature box's.
const FIELD_INSET_PT: f64 = 1.5;
const TICK_INSET_PT: f64 = 2.5;
const SIGNATURE_INSET_PT: f64 = 2.0;

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

/// A page's pixels, the paper's grey over them and the layout→pixel map.
pub struct Picture<'a> {
    pub pixels: &'a GrayImage,
    pub paper: &'a Paper,
    pub to_pixel: Homography,
    /// The page's invisible OCR text, if a scanner left one.
    pub text: &'a [Run],
}

impl Picture<'_> {
    /// A zone cut upright, its light evened (see [`Paper::even`]).
    fn cut(&self, zone: &Rect, px_per_pt: f64) -> GrayImage {
        let crop = sample(self.pixels, &self.to_pixel, zone, px_per_pt);
        self.paper.even(crop, &self.to_pixel, zone, px_per_pt)
    }

    /// How far `zone` lies inside the picture, in points: the least margin
    /// of its pixel bounds to the picture's edges, at the map's scale there.
    fn margin_pt(&self, zone: &Rect) -> f64 {
        let b = self.to_pixel.bounds(zone);
        let (w, h) = (self.pixels.width() as f64, self.pixels.height() as f64);
        let margin_px = b.x0.min(b.y0).min(w - b.x1).min(h - b.y1);
        let centre = ((zone.x0 + zone.x1) / 2.0, (zone.y0 + zone.y1) / 2.0);
        margin_px / self.to_pixel.local_affine(centre).scale().max(1e-9)
    }
}

/// One zone of a picture, measured when asked (each crop cut once).
pub struct ZoneLook<'a> {
    picture: &'a Picture<'a>,
    zone: Zone,
    widget: Option<WidgetValue>,
    crop: Option<GrayImage>,
    clean: Option<Option<GrayImage>>,
}

impl<'a> ZoneLook<'a> {
    pub fn new(picture: &'a Picture<'a>, zone: Zone, widget: Option<WidgetValue>) -> Self {
        ZoneLook {
            picture,
            zone,
            widget,
            crop: None,
            clean: None,
        }
    }

    fn cut(&mut self) -> &GrayImage {
        let inset = match self.zone.kind {
            Kind::Checkbox => TICK_INSET_PT,
            Kind::Signature => SIGNATURE_INSET_PT,
            _ => FIELD_INSET_PT,
        };
        let (picture, rect) = (self.picture, self.zone.rect.inset(inset));
        self.crop
            .get_or_insert_with(|| picture.cut(&rect, OCR_PX_PER_PT))
    }

    /// The crop cleaned for OCR (`None`: nothing left to read).
    fn clean(&mut self) -> Option<&GrayImage> {
        if self.clean.is_none() {
            let clean = ink::clean_for_ocr(self.cut(), OCR_PX_PER_PT);
            self.clean = Some(clean);
        }
        self.clean.as_ref().and_then(Option::as_ref)
    }
}

impl Look for ZoneLook<'_> {
    fn filled(&self) -> Option<Filled> {
        match &self.widget {
            Some(WidgetValue::Text(v)) => Some(Filled::Text(v.clone())),
            Some(WidgetValue::Checked(on)) => Some(Filled::Checked(*on)),
            None => None,
        }
    }

    fn margin_pt(&self) -> f64 {
        self.picture.margin_pt(&self.zone.rect)
    }

    fn coverage(&mut self) -> f64 {
        ink::coverage(self.cut())
    }

    fn strokes(&mut self) -> Strokes {
        ink::strokes(self.cut(), OCR_PX_PER_PT)
    }

    fn glyphs(&mut self) -> Glyphs {
        ink::glyphs(self.cut(), OCR_PX_PER_PT)
    }

    fn typed_words(&mut self) -> Vec<(String, f32)> {
        let Some(clean) = self.clean() else {
            return Vec::new();
        };
        let settings = ocr::Settings {
            whitelist: "",
            mode: PageSegMode::PsmSingleLine,
            languages: ocr::LANGUAGES,
            dpi: (OCR_PX_PER_PT * 72.0) as u32,
        };
        let words = ocr::read(clean, settings).unwrap_or_default();
        tracing::debug!(words = words.len(), "signature box read as text");
        words.into_iter().map(|w| (w.text, w.confidence)).collect()
    }

    fn writing(&mut self) -> Writing {
        let (tallest, ink) = ink::writing(self.cut(), OCR_PX_PER_PT);
        Writing {
            tallest,
            ink,
            readable: self.clean().is_some(),
        }
    }

    fn read(&mut self, pass: Pass) -> Option<FieldReading> {
        let (kind, id) = (self.zone.kind, self.zone.id.clone());
        let wanted = settings(kind);
        let clean = self.clean()?;
        let reading = match pass {
            Pass::First => recognise(clean, kind, wanted),
            Pass::Smaller => resized_reading(clean, kind, wanted, (3, 4), ""),
            Pass::Larger => resized_reading(clean, kind, wanted, (4, 3), wanted.whitelist),
        };
        tracing::debug!(zone = %id, ?pass, read = reading.is_some(), "field read");
        reading
    }

    fn crop(&mut self) -> GrayImage {
        self.cut().clone()
    }

    fn text_layer(&self) -> Option<String> {
        let bounds = self.picture.to_pixel.bounds(&self.zone.rect);
        let raw = text_in(self.picture.text, &bounds);
        tracing::debug!(zone = %self.zone.id, found = raw.is_some(), "text layer");
        kinds::normalise_read(self.zone.kind, &raw?)
    }
}

/// The crop read again at `num/den` of its size, with `whitelist`.
fn resized_reading(
    clean: &GrayImage,
    kind: Kind,
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
    recognise(&resized, kind, settings)
}

/// One OCR pass over a cleaned field crop, normalised to the field's kind.
/// A field is as sure as its least sure word.
fn recognise(clean: &GrayImage, kind: Kind, settings: ocr::Settings) -> Option<FieldReading> {
    let words = ocr::read(clean, settings).ok()?;
    let confidence = words.iter().map(|w| w.confidence).reduce(f32::min)?;
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let value = kinds::normalise_read(kind, &text.join(" "))?;
    Some(FieldReading { value, confidence })
}

fn settings(kind: Kind) -> ocr::Settings {
    ocr::Settings {
        whitelist: kinds::whitelist(kind),
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
