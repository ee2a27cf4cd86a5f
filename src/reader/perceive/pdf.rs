//! The PDF as a container: is it readable, how many pages, and for each page
//! either the one scanned image it shows or the fact that it must be rendered;
//! plus the values of any filled AcroForm fields.
//!
//! Only structure is read here (with `lopdf`); pixels come from `decode` or
//! `render`.

use lopdf::content::Content;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};

use crate::domain::ReadError;
use crate::reader::limits;

/// A 2-D affine matrix as PDF writes it: `[a b c d e f]`.
pub type Matrix = [f64; 6];

pub(super) const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m` then `n` (PDF order: a point is transformed by `m` first).
pub(super) fn concat(m: &Matrix, n: &Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

/// An opened, unencrypted PDF.
pub struct PdfFile {
    pub(super) doc: Document,
}

/// How a page gets its pixels.
pub enum PageSource<'a> {
    /// A scan: one image covers the page and nothing else is painted.
    Scanned(PlacedImage<'a>),
    /// Anything else (typed text, form fields, pasted images): render it.
    Vector,
}

/// The image of a scanned page and how it is placed on the page.
pub struct PlacedImage<'a> {
    pub stream: &'a Stream,
    /// Maps the image's unit square to page space (PDF points, y up).
    pub matrix: Matrix,
    /// Whether the page also shows invisible text (a scanner's OCR layer).
    pub invisible_text: bool,
}

/// A page as the reader needs it.
pub struct Page<'a> {
    /// 1-based page number in the file.
    pub number: u32,
    /// The visible box `[x0, y0, x1, y1]` in PDF points (y up).
    pub crop_box: [f64; 4],
    /// Clockwise display rotation in degrees (0, 90, 180, 270).
    pub rotate: i64,
    pub source: PageSource<'a>,
    /// Filled AcroForm fields whose widgets sit on this page.
    pub widgets: Vec<Widget>,
    /// The page object, to read its invisible text (`text_layer`).
    pub id: ObjectId,
}

/// What a filled AcroForm widget holds.
#[derive(Debug, Clone, PartialEq)]
pub enum WidgetValue {
    Text(String),
    Checked(bool),
}

/// One AcroForm widget: where it is (PDF points, y up) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Widget {
    pub rect: [f64; 4],
    pub value: WidgetValue,
}

impl PdfFile {
    /// Opens a PDF, telling a password-protected file from a damaged one.
    pub fn open(bytes: &[u8]) -> Result<PdfFile, ReadError> {
        if !looks_complete(bytes) {
            return Err(ReadError::Unreadable(
                "no %%EOF: the file is truncated".into(),
            ));
        }
        let options = LoadOptions {
            max_decompressed_size: Some(limits::MAX_STREAM_BYTES),
            ..LoadOptions::default()
        };
        let doc = match Document::load_mem_with_options(bytes, options) {
            Ok(doc) => doc,
            Err(lopdf::Error::Decryption(_)) | Err(lopdf::Error::InvalidPassword) => {
                return Err(ReadError::Encrypted)
            }
            Err(e) if has_encrypt_entry(bytes) => {
                tracing::debug!("encrypted PDF failed to load: {e}");
                return Err(ReadError::Encrypted);
            }
            Err(e) => return Err(ReadError::Unreadable(e.to_string())),
        };
        // A file whose user password is empty opens (lopdf decrypts it);
        // one still holding an /Encrypt entry it could not open does not.
        if doc.is_encrypted() && !doc.was_encrypted() {
            return Err(ReadError::Encrypted);
        }
        Ok(PdfFile { doc })
    }

    /// The pages, each classified. Fails on a page whose structure is broken.
    pub fn pages(&self) -> Result<Vec<Page<'_>>, ReadError> {
        let pages = self.doc.get_pages();
        if pages.is_empty() {
            return Err(ReadError::Unreadable("the PDF has no pages".into()));
        }
        if pages.len() > limits::MAX_PAGES {
            return Err(ReadError::Unreadable(format!(
                "{} pages, more than {} allowed",
                pages.len(),
                limits::MAX_PAGES
            )));
        }
        pages
            .iter()
            .map(|(&number, &id)| self.page(number, id))
            .collect()
    }

    fn page(&self, number: u32, id: ObjectId) -> Result<Page<'_>, ReadError> {
        let dict = self
            .doc
            .get_dictionary(id)
            .map_err(|e| ReadError::Unreadable(format!("page {number}: {e}")))?;
        let media = self
            .inherited(dict, b"MediaBox")
            .and_then(|o| rect_of(&self.doc, o))
            .unwrap_or([0.0, 0.0, 612.0, 792.0]);
        let crop_box = self
            .inherited(dict, b"CropBox")
            .and_then(|o| rect_of(&self.doc, o))
            .unwrap_or(media);
        let rotate = self
            .inherited(dict, b"Rotate")
            .and_then(|o| o.as_i64().ok())
            .unwrap_or(0)
            .rem_euclid(360);
        let source = self.source(id, &crop_box)?;
        Ok(Page {
            number,
            crop_box,
            rotate,
            source,
            widgets: self.widgets(id),
            id,
        })
    }

    /// Looks a page attribute up the page tree, as PDF inheritance wants.
    fn inherited<'a>(&'a self, mut dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
        for _ in 0..limits::MAX_TREE_DEPTH {
            if let Ok(value) = dict.get(key) {
                return self.doc.dereference(value).ok().map(|(_, o)| o);
            }
            let parent = dict.get(b"Parent").ok()?.as_reference().ok()?;
            dict = self.doc.get_dictionary(parent).ok()?;
        }
        None
    }

    /// Decides whether a page is a bare scan, by replaying what its content
    /// stream paints. The stream is read one operation at a time and only
    /// up to [`limits::MAX_CONTENT_BYTES`], [`limits::MAX_CONTENT_OPERATIONS`]
    /// and [`limits::MAX_SAVE_DEPTH`]: a page past any of them is no bare
    /// scan, and goes to the renderer, which runs out of our address space.
    fn source(&self, id: ObjectId, crop_box: &[f64; 4]) -> Result<PageSource<'_>, ReadError> {
        let bytes = match self
            .doc
            .get_page_content_with_limit(id, limits::MAX_CONTENT_BYTES)
        {
            Ok(bytes) => bytes,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => return Ok(PageSource::Vector),
            Err(e) => return Err(ReadError::Unreadable(format!("page content: {e}"))),
        };
        let (resources, _) = self
            .doc
            .get_page_resources(id)
            .map_err(|e| ReadError::Unreadable(format!("page content: {e}")))?;
        let xobjects =
            resources.and_then(|r| r.get_deref(b"XObject", &self.doc).ok()?.as_dict().ok());

        let mut ctm = IDENTITY;
        let mut stack = Vec::new();
        let mut text_mode = 0;
        let mut invisible_text = false;
        let mut images = Vec::new();
        let mut paints_other = false;
        for (count, op) in Content::decode_iter(&bytes).enumerate() {
            let op = op.map_err(|e| ReadError::Unreadable(format!("page content: {e}")))?;
            let over =
                count >= limits::MAX_CONTENT_OPERATIONS || stack.len() > limits::MAX_SAVE_DEPTH;
            // Something else painted, or a second image: no bare scan, and
            // nothing further can change that.
            if over || paints_other || images.len() > 1 {
                return Ok(PageSource::Vector);
            }
            match op.operator.as_str() {
                "q" => stack.push(ctm),
                "Q" => ctm = stack.pop().unwrap_or(IDENTITY),
                "cm" => {
                    if let Some(m) = matrix_of(&op.operands) {
                        ctm = concat(&m, &ctm);
                    }
                }
                "Tr" => {
                    text_mode = op
                        .operands
                        .first()
                        .and_then(|o| o.as_i64().ok())
                        .unwrap_or(0);
                }
                "Tj" | "TJ" | "'" | "\"" if text_mode != 3 => paints_other = true,
                "Tj" | "TJ" | "'" | "\"" => invisible_text = true,
                "S" | "s" | "f" | "F" | "f*" | "B" | "B*" | "b" | "b*" | "sh" | "BI" => {
                    paints_other = true
                }
                "Do" => {
                    let stream = op
                        .operands
                        .first()
                        .and_then(|o| o.as_name().ok())
                        .and_then(|name| xobjects?.get_deref(name, &self.doc).ok())
                        .and_then(|o| o.as_stream().ok());
                    match stream {
                        Some(s)
                            if s.dict.get(b"Subtype").and_then(Object::as_name).ok()
                                == Some(b"Image") =>
                        {
                            images.push(PlacedImage {
                                stream: s,
                                matrix: ctm,
                                invisible_text: false,
                            })
                        }
                        _ => paints_other = true,
                    }
                }
                _ => {}
            }
        }
        if paints_other || images.len() != 1 {
            return Ok(PageSource::Vector);
        }
        let image = PlacedImage {
            invisible_text,
            ..images.remove(0)
        };
        let page_area = (crop_box[2] - crop_box[0]).abs() * (crop_box[3] - crop_box[1]).abs();
        let m = &image.matrix;
        let image_area = (m[0] * m[3] - m[1] * m[2]).abs();
        if image_area < 0.5 * page_area {
            return Ok(PageSource::Vector);
        }
        Ok(PageSource::Scanned(image))
    }

    /// Filled AcroForm widgets on a page. Unfilled or odd ones are skipped:
    /// their zones are then read from the pixels.
    fn widgets(&self, id: ObjectId) -> Vec<Widget> {
        let Ok(annots) = self.doc.get_page_annotations(id) else {
            return Vec::new();
        };
        annots
            .into_iter()
            .filter(|a| a.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Widget"))
            .filter_map(|a| {
                let rect = a.get(b"Rect").ok().and_then(|o| rect_of(&self.doc, o))?;
                let kind = self.field_attr(a, b"FT").and_then(|o| o.as_name().ok())?;
                let value = match kind {
                    b"Tx" => {
                        let v = self.field_attr(a, b"V")?;
                        WidgetValue::Text(lopdf::decode_text_string(v).ok()?)
                    }
                    b"Btn" => {
                        let state = a
                            .get(b"AS")
                            .ok()
                            .or_else(|| self.field_attr(a, b"V"))
                            .and_then(|o| o.as_name().ok())?;
                        WidgetValue::Checked(state != b"Off")
                    }
                    _ => return None,
                };
                Some(Widget { rect, value })
            })
            .collect()
    }

    /// A field attribute, inherited from the widget's parent fields.
    fn field_attr<'a>(&'a self, mut dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
        for _ in 0..limits::MAX_TREE_DEPTH {
            if let Ok(v) = dict.get(key) {
                return self.doc.dereference(v).ok().map(|(_, o)| o);
            }
            let parent = dict.get(b"Parent").ok()?.as_reference().ok()?;
            dict = self.doc.get_dictionary(parent).ok()?;
        }
        None
    }

    /// Dereferences an object of this file.
    pub fn resolve<'a>(&'a self, object: &'a Object) -> Option<&'a Object> {
        self.doc.dereference(object).ok().map(|(_, o)| o)
    }
}

/// A complete PDF ends with `%%EOF` (possibly followed by a little junk).
fn looks_complete(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    tail.windows(5).any(|w| w == b"%%EOF")
}

/// Whether the trailer names an /Encrypt dictionary (seen as raw bytes).
fn has_encrypt_entry(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w == b"/Encrypt")
}

pub(super) fn number(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

pub(super) fn matrix_of(operands: &[Object]) -> Option<Matrix> {
    let v: Vec<f64> = operands.iter().map(number).collect::<Option<_>>()?;
    v.try_into().ok()
}

fn rect_of(doc: &Document, o: &Object) -> Option<[f64; 4]> {
    let array = doc.dereference(o).ok()?.1.as_array().ok()?;
    let v: Vec<f64> = array
        .iter()
        .map(|o| doc.dereference(o).ok().and_then(|(_, o)| number(o)))
        .collect::<Option<_>>()?;
    let [a, b, c, d]: [f64; 4] = v.try_into().ok()?;
    Some([a.min(c), b.min(d), a.max(c), b.max(d)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_applies_the_first_matrix_first() {
        let scale = [2.0, 0.0, 0.0, 3.0, 0.0, 0.0];
        let shift = [1.0, 0.0, 0.0, 1.0, 10.0, 20.0];
        assert_eq!(concat(&scale, &shift), [2.0, 0.0, 0.0, 3.0, 10.0, 20.0]);
        assert_eq!(concat(&shift, &scale), [2.0, 0.0, 0.0, 3.0, 20.0, 60.0]);
    }

    #[test]
    fn a_file_without_eof_is_truncated() {
        assert!(matches!(
            PdfFile::open(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
            Err(ReadError::Unreadable(_))
        ));
    }
}
