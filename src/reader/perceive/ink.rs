//! Ink on paper: what is dark, how it clusters, and its measures in a
//! checkbox, a signature box or a text field (what they say is decided by
//! `interpret::Calibration`). Works on small upright crops.

use image::GrayImage;

use crate::reader::interpret::{Glyphs, Strokes};

/// Grey levels below this are ink. Scanners put paper near 230–255 and pen
/// or toner below 100; the light grey of form backgrounds (≈220) is paper.
pub const INK_BELOW: u8 = 150;

/// Strokes at least this much darker than the paper (in grey levels, the
/// paper evened to white) are writing, however light: a fine pen in the
/// generator's 12 MP photos was seen 77 levels under its paper (155 on
/// 222), above the fixed threshold, and its fields were called empty.
const FAINT_CONTRAST: u8 = 40;
/// The highest grey that ever counts as ink.
const FAINTEST_INK: u8 = 215;

/// The ink threshold of an evened zone crop (see [`Bitmap::of_zone`]).
fn zone_threshold(crop: &GrayImage) -> u8 {
    let (w, h) = (crop.width() as usize, crop.height() as usize);
    let (mx, my) = (w / 20, h / 6);
    let raw = crop.as_raw();
    // Greys counted, not sorted: every measure of a zone asks for this.
    let mut counts = [0usize; 256];
    for y in my..h.saturating_sub(my) {
        for &v in &raw[y * w + mx..y * w + w.saturating_sub(mx).max(mx)] {
            counts[usize::from(v)] += 1;
        }
    }
    let total: usize = counts.iter().sum();
    if total == 0 {
        return INK_BELOW;
    }
    // The grey of the `rank`-th darkest pixel (0-based), as sorting gives.
    let grey_at = |rank: usize| {
        let mut seen = 0;
        counts
            .iter()
            .position(|&c| {
                seen += c;
                seen > rank
            })
            .unwrap_or(255) as u8
    };
    let dark = grey_at(total / 100);
    let paper = grey_at(total / 2);
    if paper.saturating_sub(dark) < FAINT_CONTRAST {
        return INK_BELOW;
    }
    (((u16::from(dark) + u16::from(paper)) / 2) as u8).clamp(INK_BELOW, FAINTEST_INK)
}

/// A binary image: `true` is ink.
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    pub bits: Vec<bool>,
}

impl Bitmap {
    pub fn of(image: &GrayImage) -> Bitmap {
        Bitmap::below(image, INK_BELOW)
    }

    fn below(image: &GrayImage, threshold: u8) -> Bitmap {
        Bitmap {
            width: image.width() as usize,
            height: image.height() as usize,
            bits: image.as_raw().iter().map(|&v| v < threshold).collect(),
        }
    }

    /// The ink of a zone crop whose light has been evened (paper near
    /// white): below [`INK_BELOW`], or, for a fine pen photographed from
    /// afar whose strokes stay light grey, below the middle between the
    /// paper and the darkest strokes inside the zone (its edges left out,
    /// where a box border may show).
    pub fn of_zone(crop: &GrayImage) -> Bitmap {
        Bitmap::below(crop, zone_threshold(crop))
    }

    pub fn ink(&self) -> usize {
        self.bits.iter().filter(|&&b| b).count()
    }

    /// Erases the long straight lines of a box border that a crop may catch
    /// along its edges (a row or column mostly inked, in the outer quarter).
    pub fn strip_border_lines(&mut self) {
        let (w, h) = (self.width, self.height);
        for y in (0..h).filter(|&y| y < h / 4 || y >= h - h / 4) {
            let row = &mut self.bits[y * w..(y + 1) * w];
            if row.iter().filter(|&&b| b).count() * 2 > w {
                row.iter_mut().for_each(|b| *b = false);
            }
        }
        for x in (0..w).filter(|&x| x < w / 8 || x >= w - w / 8) {
            let inked = (0..h).filter(|&y| self.bits[y * w + x]).count();
            if inked * 3 > h * 2 {
                (0..h).for_each(|y| self.bits[y * w + x] = false);
            }
        }
    }

    /// 8-connected blobs of ink.
    pub fn components(&self) -> Vec<Blob> {
        let (w, h) = (self.width, self.height);
        let mut seen = vec![false; self.bits.len()];
        let mut blobs = Vec::new();
        let mut stack = Vec::new();
        for start in 0..self.bits.len() {
            if !self.bits[start] || seen[start] {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let mut blob = Blob {
                area: 0,
                edge: 0,
                x0: w,
                y0: h,
                x1: 0,
                y1: 0,
            };
            while let Some(i) = stack.pop() {
                let (x, y) = (i % w, i / w);
                blob.area += 1;
                blob.x0 = blob.x0.min(x);
                blob.y0 = blob.y0.min(y);
                blob.x1 = blob.x1.max(x);
                blob.y1 = blob.y1.max(y);
                let mut border = false;
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        if dx == 0 && dy == 0 {
                            continue;
                        }
                        let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                        if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                            border = true;
                            continue;
                        }
                        let j = ny as usize * w + nx as usize;
                        if !self.bits[j] {
                            border |= dx == 0 || dy == 0;
                        } else if !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
                if border {
                    blob.edge += 1;
                }
            }
            blobs.push(blob);
        }
        blobs
    }
}

/// One connected blob of ink, in crop pixels.
#[derive(Debug, Clone, Copy)]
pub struct Blob {
    pub area: usize,
    /// Pixels on the blob's outline.
    pub edge: usize,
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Blob {
    pub fn width(&self) -> usize {
        self.x1 - self.x0 + 1
    }

    pub fn height(&self) -> usize {
        self.y1 - self.y0 + 1
    }

    /// Mean stroke thickness in pixels: area over half the outline length.
    /// A pen line is a few pixels thick; a smudge or a blot is thick.
    pub fn thickness(&self) -> f64 {
        2.0 * self.area as f64 / self.edge.max(1) as f64
    }
}

/// The blobs that are more than scanner dust: at least `min_area` pixels.
pub fn marks(bitmap: &Bitmap, min_area: usize) -> Vec<Blob> {
    bitmap
        .components()
        .into_iter()
        .filter(|b| b.area >= min_area)
        .collect()
}

/// Measures the strokes in a signature crop sampled at `px_per_pt`.
pub fn strokes(crop: &GrayImage, px_per_pt: f64) -> Strokes {
    let mut bitmap = Bitmap::of_zone(crop);
    bitmap.strip_border_lines();
    let min_area = (0.8 * px_per_pt * px_per_pt).ceil() as usize;
    let blobs = marks(&bitmap, min_area.max(2));
    if blobs.is_empty() {
        return Strokes::default();
    }
    let x0 = blobs.iter().map(|b| b.x0).min().unwrap_or(0);
    let x1 = blobs.iter().map(|b| b.x1).max().unwrap_or(0);
    let y0 = blobs.iter().map(|b| b.y0).min().unwrap_or(0);
    let y1 = blobs.iter().map(|b| b.y1).max().unwrap_or(0);
    let area: usize = blobs.iter().map(|b| b.area).sum();
    let thickness = blobs
        .iter()
        .map(|b| b.thickness() * b.area as f64)
        .sum::<f64>()
        / area as f64;
    let longest = blobs
        .iter()
        .map(|b| (b.width().pow(2) + b.height().pow(2)) as f64)
        .fold(0.0, f64::max)
        .sqrt();
    Strokes {
        span: (x1 - x0 + 1) as f64 / px_per_pt,
        rise: (y1 - y0 + 1) as f64 / px_per_pt,
        area: area as f64 / (px_per_pt * px_per_pt),
        thickness: thickness / px_per_pt,
        longest: longest / px_per_pt,
    }
}

/// How the ink in a signature box is laid out: print is mostly separate
/// glyph-sized blobs (one per letter) standing on one baseline.
/// Handwriting joins its letters into few long strokes, so its ink lies
/// in blobs much wider than tall; a typed name splits into many blobs of
/// about one letter each. Unlike an OCR confidence, this holds at any
/// scan resolution: at 150 dpi a typed name blurs, which lowers what
/// Tesseract thinks of it, but its letters still stand apart.
pub fn glyphs(crop: &GrayImage, px_per_pt: f64) -> Glyphs {
    let mut bitmap = Bitmap::of_zone(crop);
    bitmap.strip_border_lines();
    let min_area = (0.3 * px_per_pt * px_per_pt).ceil() as usize;
    let blobs = marks(&bitmap, min_area.max(2));
    let total: usize = blobs.iter().map(|b| b.area).sum();
    // A letter of a 10–24 pt font: 3–22 pt tall, at most about square
    // (two touching letters are still narrower than twice their height).
    let glyphs: Vec<&Blob> = blobs
        .iter()
        .filter(|b| {
            let h = b.height() as f64 / px_per_pt;
            (3.0..=22.0).contains(&h) && b.width() <= 2 * b.height()
        })
        .collect();
    if glyphs.is_empty() {
        return Glyphs::default();
    }
    let glyph_area: usize = glyphs.iter().map(|b| b.area).sum();
    // Print stands on a baseline: most letters end on the same row
    // (descenders and the odd accent aside).
    let mut bottoms: Vec<usize> = glyphs.iter().map(|b| b.y1).collect();
    bottoms.sort_unstable();
    let baseline = bottoms[bottoms.len() / 2];
    let tolerance = (1.5 * px_per_pt).round() as usize;
    let on_line = bottoms
        .iter()
        .filter(|&&y| y.abs_diff(baseline) <= tolerance)
        .count();
    Glyphs {
        count: glyphs.len(),
        share_of_ink: glyph_area as f64 / total.max(1) as f64,
        on_baseline: on_line as f64 / glyphs.len() as f64,
    }
}

/// Share of a checkbox interior covered by ink.
pub fn coverage(crop: &GrayImage) -> f64 {
    let bitmap = Bitmap::of_zone(crop);
    bitmap.ink() as f64 / bitmap.bits.len().max(1) as f64
}

/// The writing in a text field crop: the height of its tallest mark, in
/// points, and the ink of its marks bigger than dust, in square points.
pub fn writing(crop: &GrayImage, px_per_pt: f64) -> (f64, f64) {
    let mut bitmap = Bitmap::of_zone(crop);
    bitmap.strip_border_lines();
    let min_area = (0.6 * px_per_pt * px_per_pt).ceil() as usize;
    let blobs = marks(&bitmap, min_area.max(2));
    let tallest = blobs.iter().map(|b| b.height()).max().unwrap_or(0);
    let area: usize = blobs.iter().map(|b| b.area).sum();
    (
        tallest as f64 / px_per_pt,
        area as f64 / (px_per_pt * px_per_pt),
    )
}

/// A crop made ready for OCR: border lines and specks turned to paper,
/// cut to the writing with a white margin. `None` when no writing is left.
pub fn clean_for_ocr(crop: &GrayImage, px_per_pt: f64) -> Option<GrayImage> {
    let mut bitmap = Bitmap::of_zone(crop);
    bitmap.strip_border_lines();
    let min_area = (0.3 * px_per_pt * px_per_pt).ceil() as usize;
    let blobs = marks(&bitmap, min_area.max(2));
    let x0 = blobs.iter().map(|b| b.x0).min()?;
    let y0 = blobs.iter().map(|b| b.y0).min()?;
    let x1 = blobs.iter().map(|b| b.x1).max()?;
    let y1 = blobs.iter().map(|b| b.y1).max()?;
    let margin = (3.0 * px_per_pt).round() as usize;
    let (w, h) = (x1 - x0 + 1 + 2 * margin, y1 - y0 + 1 + 2 * margin);
    let mut out = GrayImage::from_pixel(w as u32, h as u32, image::Luma([255]));
    // Keep the grey levels of the ink itself (antialiasing helps the engine)
    // and of its immediate neighbours; everything else becomes paper.
    let keep = dilate(&bitmap);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let i = y * bitmap.width + x;
            if keep[i] {
                let v = crop.as_raw()[i];
                out.put_pixel(
                    (x - x0 + margin) as u32,
                    (y - y0 + margin) as u32,
                    image::Luma([v]),
                );
            }
        }
    }
    Some(out)
}

/// Ink grown by one pixel in each direction.
fn dilate(bitmap: &Bitmap) -> Vec<bool> {
    let (w, h) = (bitmap.width, bitmap.height);
    let mut out = bitmap.bits.clone();
    for y in 0..h {
        for x in 0..w {
            if bitmap.bits[y * w + x] {
                for (nx, ny) in [
                    (x.wrapping_sub(1), y),
                    (x + 1, y),
                    (x, y.wrapping_sub(1)),
                    (x, y + 1),
                ] {
                    if nx < w && ny < h {
                        out[ny * w + nx] = true;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::interpret::{Writing, CALIBRATION};

    fn signed(s: &Strokes) -> bool {
        CALIBRATION.looks_signed(s)
    }

    fn printed(crop: &GrayImage, px: f64) -> bool {
        CALIBRATION.looks_printed(&glyphs(crop, px))
    }

    fn holds_writing(crop: &GrayImage, px: f64) -> bool {
        let (tallest, ink) = writing(crop, px);
        CALIBRATION.holds_writing(&Writing {
            tallest,
            ink,
            readable: true,
        })
    }

    fn canvas(w: u32, h: u32) -> GrayImage {
        GrayImage::from_pixel(w, h, image::Luma([255]))
    }

    /// One long, thin, joined stroke waving across the box: cursive.
    fn wave() -> GrayImage {
        let mut crop = canvas(500, 100);
        for x in 20..420u32 {
            let y = 50 + ((x as f64 / 15.0).sin() * 20.0) as u32;
            for t in 0..3 {
                crop.put_pixel(x, y + t, image::Luma([0]));
            }
        }
        crop
    }

    #[test]
    fn a_thin_long_stroke_is_signed_but_a_blot_is_not() {
        let px = 2.0;
        assert!(signed(&strokes(&wave(), px)));

        let mut blot = canvas(500, 100);
        for x in 200..240 {
            for y in 30..70 {
                blot.put_pixel(x, y, image::Luma([20]));
            }
        }
        let s = strokes(&blot, px);
        assert!(!signed(&s), "{s:?}");
        assert!(!signed(&strokes(&canvas(500, 100), px)));
    }

    #[test]
    fn a_short_signature_written_tall_is_signed() {
        // 25 pt wide and 45 pt tall: a zigzag of initials.
        let px = 2.0;
        let mut sig = canvas(500, 100);
        for y in 5..95u32 {
            let x = 225 + ((y as f64 / 12.0).sin() * 25.0) as i32;
            for t in 0..3 {
                sig.put_pixel((x + t) as u32, y, image::Luma([0]));
            }
        }
        let s = strokes(&sig, px);
        assert!(s.span < 30.0, "{s:?}");
        assert!(signed(&s), "{s:?}");
    }

    /// Eight letter-sized blocks, each `lift(i)` pixels above the baseline.
    fn letters(lift: impl Fn(u32) -> u32) -> GrayImage {
        let mut crop = canvas(500, 100);
        for i in 0..8u32 {
            let x0 = 20 + i * 40;
            let bottom = 70 - lift(i);
            for y in bottom - 30..bottom {
                for x in x0..x0 + 6 {
                    crop.put_pixel(x, y, image::Luma([0]));
                }
            }
        }
        crop
    }

    #[test]
    fn separate_letters_on_a_baseline_look_printed_but_cursive_does_not() {
        let px = 3.0;
        assert!(printed(&letters(|_| 0), px));
        // The same letters bobbing up and down are not print.
        assert!(!printed(&letters(|i| (i % 3) * 10), px));
        // One joined cursive stroke is not print either.
        assert!(!printed(&wave(), px));
    }

    #[test]
    fn border_lines_are_not_writing() {
        let mut field = canvas(400, 40);
        for x in 0..400 {
            field.put_pixel(x, 0, image::Luma([0]));
            field.put_pixel(x, 39, image::Luma([0]));
        }
        assert!(!holds_writing(&field, 4.0));
        for y in 10..32 {
            for x in 20..24 {
                field.put_pixel(x, y, image::Luma([0]));
            }
        }
        assert!(holds_writing(&field, 4.0));
    }
}
