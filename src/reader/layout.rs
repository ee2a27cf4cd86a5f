//! The DA-100 layout: where each zone, mark and code sits on the page.
//!
//! The layout ships with the binary (`data/da-100/layout.json`, embedded at
//! build time) so that a running desk never depends on a file it could lose.
//! Coordinates are PDF points from the top-left corner of a Letter page.

use serde::Deserialize;

/// The layout file as the form's designers wrote it.
const LAYOUT_JSON: &str = include_str!("../../data/da-100/layout.json");

/// A rectangle in layout points: `[x0, y0, x1, y1]`, y growing downwards.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(from = "[f64; 4]")]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl From<[f64; 4]> for Rect {
    fn from([x0, y0, x1, y1]: [f64; 4]) -> Self {
        Rect { x0, y0, x1, y1 }
    }
}

impl Rect {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// The same rectangle shrunk by `by` points on every side.
    pub fn inset(&self, by: f64) -> Rect {
        Rect {
            x0: self.x0 + by,
            y0: self.y0 + by,
            x1: self.x1 - by,
            y1: self.y1 - by,
        }
    }

    /// Area shared with `other`, in square points.
    pub fn overlap(&self, other: &Rect) -> f64 {
        let w = self.x1.min(other.x1) - self.x0.max(other.x0);
        let h = self.y1.min(other.y1) - self.y0.max(other.y0);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }
}

/// What a zone holds, which decides how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Digits,
    Date,
    Email,
    Checkbox,
    Signature,
}

/// One zone of the form.
#[derive(Debug, Clone, Deserialize)]
pub struct Zone {
    pub id: String,
    pub page: u8,
    pub kind: Kind,
    #[serde(rename = "box")]
    pub rect: Rect,
    /// The words printed beside it.
    #[serde(default)]
    pub label: String,
}

impl Zone {
    /// The service code of a checkbox zone (`service.FACT` → `FACT`).
    pub fn service_code(&self) -> Option<&str> {
        match self.kind {
            Kind::Checkbox => self.id.strip_prefix("service."),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Marks {
    pub size_pt: f64,
    pub top_left_corners: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QrCode {
    #[serde(rename = "box")]
    pub rect: Rect,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub code_box: Rect,
}

/// The whole layout of one version of the form.
#[derive(Debug, Clone, Deserialize)]
pub struct Layout {
    pub form: String,
    pub version: String,
    pub pages: u8,
    pub registration_marks: Marks,
    pub qr_code: QrCode,
    pub header: Header,
    pub fields: Vec<Zone>,
}

impl Layout {
    /// The layout embedded in the binary, checked for what the reader needs.
    pub fn embedded() -> anyhow::Result<Layout> {
        let layout: Layout = serde_json::from_str(LAYOUT_JSON)?;
        anyhow::ensure!(
            layout.registration_marks.top_left_corners.len() == 4,
            "the layout must place four registration marks"
        );
        anyhow::ensure!(layout.pages >= 1, "the layout must have pages");
        Ok(layout)
    }

    /// Centres of the four registration marks, in the order of the layout
    /// (top-left, top-right, bottom-left, bottom-right).
    pub fn mark_centres(&self) -> Vec<(f64, f64)> {
        let half = self.registration_marks.size_pt / 2.0;
        self.registration_marks
            .top_left_corners
            .iter()
            .map(|[x, y]| (x + half, y + half))
            .collect()
    }

    /// The zones of one page.
    pub fn zones_of(&self, page: u8) -> impl Iterator<Item = &Zone> {
        self.fields.iter().filter(move |z| z.page == page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_layout_has_both_pages_and_four_services() {
        let layout = Layout::embedded().unwrap();
        assert_eq!(layout.form, "DA-100");
        assert_eq!(layout.pages, 2);
        let services: Vec<_> = layout
            .fields
            .iter()
            .filter_map(Zone::service_code)
            .collect();
        assert_eq!(services, ["FACT", "INSC", "PAIE", "DOSS"]);
        assert_eq!(layout.zones_of(2).count(), 7);
        assert_eq!(layout.mark_centres()[3], (583.0, 763.0));
    }
}
