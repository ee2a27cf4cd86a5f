//! A scanner's invisible text: the words its own OCR drew in render mode 3
//! over the page image (a "sandwich" PDF), placed where they lie in the
//! oriented page image, so that a field's zone can take the words inside
//! it as one more reading. Never the only one: such layers come from
//! cheap engines and slip (`é` lost, `0` for `O`, `©` for `@`), and
//! interpretation only lets the layer agree with an OCR pass.
//!
//! Only what is needed is replayed: the graphics state's matrix (`q`, `Q`,
//! `cm`), the text state (`BT`, `Tf`, `Tr`, `TL`, `Td`, `TD`, `Tm`, `T*`)
//! and the strings shown (`Tj`, `TJ`, `'`, `"`), each decoded with its
//! font's encoding (simple encodings and `ToUnicode` maps, as lopdf reads
//! them). A run is placed by its origin: glyph widths are not needed to
//! tell which box a word starts in. Bounded like the rest of the file:
//! content bytes, operations, runs and characters per run.

use lopdf::content::Content;
use lopdf::{Encoding, Object};

use super::geometry::Turn;
use super::pdf::{concat, matrix_of, number, Matrix, Page, PdfFile, IDENTITY};
use crate::reader::layout::Rect;
use crate::reader::limits;

/// Most runs kept from one page (a page of text is a few hundred words).
const MAX_RUNS: usize = 4_000;
/// Most characters kept from one run.
const MAX_RUN_CHARS: usize = 256;
/// A `TJ` gap wider than this, in thousandths of a text space unit, is a
/// space between words.
const WORD_GAP: f64 = 250.0;

/// One string shown invisibly, at its origin in the oriented page image's
/// pixels (x right, y down).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub text: String,
    pub at: (f64, f64),
}

/// The invisible runs of a bare-scan page whose image, `stored` pixels wide
/// and high as decoded, is placed by `placement` (unit square → page). Empty when the page has
/// none, or when its content or fonts cannot be read.
pub fn runs(file: &PdfFile, page: &Page<'_>, placement: &Matrix, stored: (u32, u32)) -> Vec<Run> {
    let doc = &file.doc;
    let Ok(bytes) = doc.get_page_content_with_limit(page.id, limits::MAX_CONTENT_BYTES) else {
        return Vec::new();
    };
    let Ok(fonts) = doc.get_page_fonts(page.id) else {
        return Vec::new();
    };
    let encodings: Vec<(Vec<u8>, Encoding<'_>)> = fonts
        .into_iter()
        .filter_map(|(name, font)| {
            let encoding = font
                .get_font_encoding_with_limit(doc, limits::MAX_CONTENT_BYTES)
                .ok()?;
            Some((name, encoding))
        })
        .collect();
    let place = Placement::new(placement, page.rotate, stored);
    let mut state = TextState::default();
    let mut out = Vec::new();
    for (count, op) in Content::decode_iter(&bytes).enumerate() {
        let Ok(op) = op else { break };
        if count >= limits::MAX_CONTENT_OPERATIONS
            || state.saved.len() > limits::MAX_SAVE_DEPTH
            || out.len() >= MAX_RUNS
        {
            break;
        }
        let shown = state.apply(&op.operator, &op.operands);
        if let (Some(strings), 3) = (shown, state.render_mode) {
            let encoding = state
                .font
                .as_ref()
                .and_then(|f| encodings.iter().find(|(name, _)| name == f))
                .map(|(_, e)| e);
            let Some(text) = encoding.and_then(|e| decode(e, &strings)) else {
                continue;
            };
            let origin = concat(&state.tm, &state.ctm);
            if let Some(at) = place.pixel((origin[4], origin[5])) {
                out.push(Run { text, at });
            }
        }
    }
    out
}

/// The words of `runs` whose origin lies in `bounds` (pixels), top to
/// bottom then left to right, one space apart; `None` when there are none.
pub fn text_in(runs: &[Run], bounds: &Rect) -> Option<String> {
    let mut inside: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            let (x, y) = r.at;
            x >= bounds.x0 && x <= bounds.x1 && y >= bounds.y0 && y <= bounds.y1
        })
        .collect();
    inside.sort_by(|a, b| a.at.1.total_cmp(&b.at.1).then(a.at.0.total_cmp(&b.at.0)));
    let words: Vec<&str> = inside
        .iter()
        .map(|r| r.text.trim())
        .filter(|t| !t.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The strings one show operator paints, each with a word gap marked.
enum Shown {
    Bytes(Vec<u8>),
    Gap,
}

fn decode(encoding: &Encoding<'_>, strings: &[Shown]) -> Option<String> {
    let mut text = String::new();
    for s in strings {
        match s {
            Shown::Bytes(b) => text.push_str(&encoding.bytes_to_string(b).ok()?),
            Shown::Gap => text.push(' '),
        }
        if text.chars().count() > MAX_RUN_CHARS {
            return Some(text.chars().take(MAX_RUN_CHARS).collect());
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// What the replay keeps of the graphics and text state.
struct TextState {
    ctm: Matrix,
    saved: Vec<Matrix>,
    tm: Matrix,
    tlm: Matrix,
    leading: f64,
    render_mode: i64,
    font: Option<Vec<u8>>,
}

impl Default for TextState {
    fn default() -> Self {
        TextState {
            ctm: IDENTITY,
            saved: Vec::new(),
            tm: IDENTITY,
            tlm: IDENTITY,
            leading: 0.0,
            render_mode: 0,
            font: None,
        }
    }
}

fn numbers<const N: usize>(operands: &[Object]) -> Option<[f64; N]> {
    let mut out = [0.0; N];
    if operands.len() < N {
        return None;
    }
    for (slot, o) in out.iter_mut().zip(operands) {
        *slot = number(o)?;
    }
    Some(out)
}

impl TextState {
    /// Applies one operator; for a show operator, the strings it paints.
    fn apply(&mut self, operator: &str, operands: &[Object]) -> Option<Vec<Shown>> {
        match operator {
            "q" => self.saved.push(self.ctm),
            "Q" => self.ctm = self.saved.pop().unwrap_or(IDENTITY),
            "cm" => {
                if let Some(m) = matrix_of(operands) {
                    self.ctm = concat(&m, &self.ctm);
                }
            }
            "BT" => {
                self.tm = IDENTITY;
                self.tlm = IDENTITY;
            }
            "Tf" => {
                self.font = operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .map(<[u8]>::to_vec)
            }
            "Tr" => self.render_mode = operands.first().and_then(|o| o.as_i64().ok()).unwrap_or(0),
            "TL" => self.leading = operands.first().and_then(number).unwrap_or(0.0),
            "Td" => {
                if let Some([tx, ty]) = numbers::<2>(operands) {
                    self.next_line(tx, ty);
                }
            }
            "TD" => {
                if let Some([tx, ty]) = numbers::<2>(operands) {
                    self.leading = -ty;
                    self.next_line(tx, ty);
                }
            }
            "Tm" => {
                if let Some(m) = matrix_of(operands) {
                    self.tm = m;
                    self.tlm = m;
                }
            }
            "T*" => self.next_line(0.0, -self.leading),
            "Tj" => return Some(strings(operands.first())),
            "'" => {
                self.next_line(0.0, -self.leading);
                return Some(strings(operands.first()));
            }
            "\"" => {
                self.next_line(0.0, -self.leading);
                return Some(strings(operands.get(2)));
            }
            "TJ" => return Some(strings(operands.first())),
            _ => {}
        }
        None
    }

    fn next_line(&mut self, tx: f64, ty: f64) {
        self.tlm = concat(&[1.0, 0.0, 0.0, 1.0, tx, ty], &self.tlm);
        self.tm = self.tlm;
    }
}

/// The strings of a `Tj` operand or a `TJ` array (wide gaps as spaces).
fn strings(operand: Option<&Object>) -> Vec<Shown> {
    match operand {
        Some(Object::String(bytes, _)) => vec![Shown::Bytes(bytes.clone())],
        Some(Object::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Object::String(bytes, _) => Some(Shown::Bytes(bytes.clone())),
                other => number(other)
                    .filter(|gap| *gap < -WORD_GAP)
                    .map(|_| Shown::Gap),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// From page space (points, y up) to the oriented image's pixels: through
/// the inverse of the image's placement to its unit square, to stored
/// pixels (row 0 at the top), then turned as `geometry::orient` turns it.
struct Placement {
    inverse: Option<Matrix>,
    turn: Option<Turn>,
    size: (f64, f64),
}

impl Placement {
    fn new(placement: &Matrix, rotate: i64, (w, h): (u32, u32)) -> Placement {
        let [a, b, c, d, e, f] = *placement;
        let det = a * d - b * c;
        let inverse = (det.abs() > 1e-12).then(|| {
            [
                d / det,
                -b / det,
                -c / det,
                a / det,
                (c * f - d * e) / det,
                (b * e - a * f) / det,
            ]
        });
        Placement {
            inverse,
            turn: Turn::of(placement, rotate),
            size: (f64::from(w), f64::from(h)),
        }
    }

    fn pixel(&self, (x, y): (f64, f64)) -> Option<(f64, f64)> {
        let m = self.inverse?;
        let (s, t) = (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]);
        let stored = (s * self.size.0, (1.0 - t) * self.size.1);
        let at = match self.turn {
            Some(turn) => turn.point(stored, self.size),
            None => stored,
        };
        at.0.is_finite().then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::content::Operation;
    use lopdf::{dictionary, Document, Stream};

    /// A one-page PDF: an image `w`×`h` px placed by `placement` over a
    /// Letter page turned by `rotate`, then `text_ops`.
    fn pdf(
        placement: Matrix,
        rotate: i64,
        text_ops: Vec<Operation>,
        font: impl FnOnce(&mut Document) -> lopdf::Dictionary,
    ) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let font = font(&mut doc);
        let pages_id = doc.new_object_id();
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 4, "Height" => 4,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            vec![255; 16],
        );
        let image_id = doc.add_object(image);
        let font_id = doc.add_object(font);
        let mut ops = vec![
            Operation::new("q", vec![]),
            Operation::new(
                "cm",
                placement.iter().map(|&v| Object::Real(v as f32)).collect(),
            ),
            Operation::new("Do", vec![Object::Name(b"Im0".to_vec())]),
            Operation::new("Q", vec![]),
        ];
        ops.extend(text_ops);
        let content = lopdf::content::Content { operations: ops };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Rotate" => rotate, "Contents" => content_id,
            "Resources" => dictionary! {
                "XObject" => dictionary! { "Im0" => image_id },
                "Font" => dictionary! { "F1" => font_id },
            },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
            ),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn helvetica(_: &mut Document) -> lopdf::Dictionary {
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding" }
    }

    fn show(mode: i64, x: f64, y: f64, text: &[u8]) -> Vec<Operation> {
        vec![
            Operation::new("BT", vec![]),
            Operation::new("Tr", vec![mode.into()]),
            Operation::new("Tf", vec![Object::Name(b"F1".to_vec()), 10.into()]),
            Operation::new(
                "Tm",
                vec![
                    1.into(),
                    0.into(),
                    0.into(),
                    1.into(),
                    Object::Real(x as f32),
                    Object::Real(y as f32),
                ],
            ),
            Operation::new("Tj", vec![Object::string_literal(text.to_vec())]),
            Operation::new("ET", vec![]),
        ]
    }

    const FULL_PAGE: Matrix = [612.0, 0.0, 0.0, 792.0, 0.0, 0.0];

    /// The runs of the file's first page, its image placed over the whole
    /// page and taken as `stored` px.
    fn runs_of(bytes: &[u8], stored: (u32, u32)) -> Vec<Run> {
        let file = PdfFile::open(bytes).unwrap();
        let pages = file.pages().unwrap();
        runs(&file, &pages[0], &FULL_PAGE, stored)
    }

    #[test]
    fn invisible_words_are_placed_in_the_oriented_image() {
        let mut ops = show(3, 61.2, 792.0 - 79.2, b"H\xe9l\xe8ne");
        ops.extend(show(0, 300.0, 300.0, b"visible"));
        let runs = runs_of(&pdf(FULL_PAGE, 0, ops, helvetica), (1700, 2200));
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].text, "Hélène");
        // 0.1 of the width, 0.1 of the height from the top.
        assert!(
            (runs[0].at.0 - 170.0).abs() < 1.0 && (runs[0].at.1 - 220.0).abs() < 1.0,
            "{runs:?}"
        );
        let bounds = Rect {
            x0: 150.0,
            y0: 200.0,
            x1: 400.0,
            y1: 240.0,
        };
        assert_eq!(text_in(&runs, &bounds).as_deref(), Some("Hélène"));
        assert_eq!(
            text_in(
                &runs,
                &Rect {
                    x0: 0.0,
                    y0: 0.0,
                    x1: 100.0,
                    y1: 100.0
                }
            ),
            None
        );
    }

    #[test]
    fn a_turned_page_turns_its_words_with_it() {
        // The page shown a quarter turn clockwise: its image is turned
        // upright by `orient`, and the words with it.
        let ops = show(3, 61.2, 792.0 - 79.2, b"Roy");
        let runs = runs_of(&pdf(FULL_PAGE, 90, ops, helvetica), (1700, 2200));
        let turn = Turn::of(&FULL_PAGE, 90).unwrap();
        let expected = turn.point((170.0, 220.0), (1700.0, 2200.0));
        assert_eq!(runs.len(), 1);
        assert!((runs[0].at.0 - expected.0).abs() < 1.0 && (runs[0].at.1 - expected.1).abs() < 1.0);
    }

    #[test]
    fn a_to_unicode_map_decodes_two_byte_codes() {
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
            /CMapName /Adobe-Identity-UCS def /CMapType 2 def\n\
            1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            2 beginbfchar <0001> <004C> <0002> <00E9> endbfchar\n\
            endcmap CMapName currentdict /CMap defineresource pop end end";
        let font = |doc: &mut Document| {
            let map = doc.add_object(Stream::new(dictionary! {}, cmap.to_vec()));
            dictionary! {
                "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "GlyphLessFont",
                "Encoding" => "Identity-H", "ToUnicode" => map,
            }
        };
        let bytes = pdf(FULL_PAGE, 0, show(3, 100.0, 100.0, &[0, 1, 0, 2]), font);
        let runs = runs_of(&bytes, (612, 792));
        assert_eq!(
            runs.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
            ["Lé"]
        );
    }

    #[test]
    fn broken_operands_give_nothing_and_no_panic() {
        let ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tr", vec![3.into()]),
            Operation::new("Tf", vec![Object::Name(b"F1".to_vec()), 10.into()]),
            Operation::new("Tm", vec![Object::Name(b"x".to_vec())]),
            Operation::new("Td", vec![]),
            Operation::new("Tj", vec![Object::string_literal(vec![b'a'; 10_000])]),
            Operation::new("TJ", vec![Object::Integer(5)]),
            Operation::new("ET", vec![]),
        ];
        let runs = runs_of(&pdf(FULL_PAGE, 0, ops, helvetica), (100, 100));
        let lengths: Vec<usize> = runs.iter().map(|r| r.text.chars().count()).collect();
        assert_eq!(lengths, [MAX_RUN_CHARS]);
    }
}
