//! Decoding a scanned page's image XObject into grey pixels, without a
//! renderer: JPEG (DCTDecode), Flate/LZW/raw samples (with PNG predictors,
//! via lopdf), and CCITT Group 4 fax. 1-bit, grey, RGB and CMYK samples
//! become 8-bit grey; `/Decode [1 0]` and `/BlackIs1` are honoured.
//!
//! Images in other encodings (JBIG2, JPEG 2000) are `Unsupported`: the
//! caller renders such pages instead.

use image::GrayImage;
use lopdf::{Dictionary, Object, Stream};
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::pdf::PdfFile;
use crate::reader::limits;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// An encoding this module does not decode; rendering may.
    #[error("unsupported image: {0}")]
    Unsupported(String),
    /// Damaged or over-limit image data.
    #[error("corrupt image: {0}")]
    Corrupt(String),
}

fn corrupt(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt(e.to_string())
}

/// Decodes an image XObject into 8-bit grey, 0 black, 255 white.
pub fn decode_image(pdf: &PdfFile, stream: &Stream) -> Result<GrayImage, DecodeError> {
    let dict = &stream.dict;
    let width = int(dict, b"Width").ok_or_else(|| corrupt("no /Width"))?;
    let height = int(dict, b"Height").ok_or_else(|| corrupt("no /Height"))?;
    // Sizes come from the sender: multiplied saturating, so that 2^32 × 2^32
    // cannot wrap to a small number and pass.
    let pixels = width.saturating_mul(height);
    if width == 0 || height == 0 || pixels > limits::MAX_PAGE_PIXELS {
        return Err(corrupt(format!("image of {width}x{height} pixels")));
    }
    let (w, h) = (
        u32::try_from(width).map_err(corrupt)?,
        u32::try_from(height).map_err(corrupt)?,
    );
    let filters = stream.filters().unwrap_or_default();
    let mut grey = match filters.last().copied() {
        Some(b"DCTDecode") if filters.len() == 1 => decode_jpeg(&stream.content, w, h)?,
        Some(b"CCITTFaxDecode") if filters.len() == 1 => decode_ccitt(&stream.content, dict, w, h)?,
        Some(f @ (b"JBIG2Decode" | b"JPXDecode" | b"DCTDecode" | b"CCITTFaxDecode")) => {
            return Err(DecodeError::Unsupported(
                String::from_utf8_lossy(f).into_owned(),
            ))
        }
        _ => {
            let samples = stream
                .decompressed_content_with_limit(limits::MAX_STREAM_BYTES)
                .map_err(corrupt)?;
            decode_samples(pdf, &samples, dict, w, h)?
        }
    };
    if decode_is_inverted(dict) {
        image::imageops::invert(&mut grey);
    }
    Ok(grey)
}

fn int(dict: &Dictionary, key: &[u8]) -> Option<u64> {
    dict.get(key).ok()?.as_i64().ok()?.try_into().ok()
}

/// `/Decode [1 0]`: samples are to be read the other way round.
fn decode_is_inverted(dict: &Dictionary) -> bool {
    let Ok(Object::Array(a)) = dict.get(b"Decode") else {
        return false;
    };
    let first = a.first().and_then(|o| o.as_float().ok());
    let second = a.get(1).and_then(|o| o.as_float().ok());
    matches!((first, second), (Some(x), Some(y)) if x > y)
}

fn decode_jpeg(data: &[u8], w: u32, h: u32) -> Result<GrayImage, DecodeError> {
    let options = DecoderOptions::default()
        .set_max_width(limits::MAX_IMAGE_SIDE)
        .set_max_height(limits::MAX_IMAGE_SIDE)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = JpegDecoder::new_with_options(data, options);
    decoder.decode_headers().map_err(corrupt)?;
    let input = decoder.get_input_colorspace();
    if matches!(input, Some(ColorSpace::CMYK | ColorSpace::YCCK)) {
        // zune cannot take CMYK straight to grey; the image crate can.
        return image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
            .map(|i| i.to_luma8())
            .map_err(corrupt);
    }
    let (jw, jh) = decoder
        .dimensions()
        .map(|(a, b)| (a as u32, b as u32))
        .ok_or_else(|| corrupt("JPEG without dimensions"))?;
    // The JPEG's own header decides the buffer size: bound it too.
    if u64::from(jw) * u64::from(jh) > limits::MAX_PAGE_PIXELS {
        return Err(corrupt(format!("JPEG of {jw}x{jh} pixels")));
    }
    let pixels = decoder.decode().map_err(corrupt)?;
    if (jw, jh) != (w, h) {
        tracing::debug!("JPEG is {jw}x{jh}, the PDF says {w}x{h}");
    }
    GrayImage::from_raw(jw, jh, pixels).ok_or_else(|| corrupt("short JPEG"))
}

fn decode_ccitt(data: &[u8], dict: &Dictionary, w: u32, h: u32) -> Result<GrayImage, DecodeError> {
    let params = match dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => Some(d),
        Ok(Object::Array(a)) => a.first().and_then(|o| o.as_dict().ok()),
        _ => None,
    };
    let k = params
        .and_then(|p| p.get(b"K").ok()?.as_i64().ok())
        .unwrap_or(0);
    if k >= 0 {
        return Err(DecodeError::Unsupported(format!("CCITT Group 3 (K={k})")));
    }
    let black_is_1 = params
        .and_then(|p| p.get(b"BlackIs1").ok()?.as_bool().ok())
        .unwrap_or(false);
    let width = u16::try_from(w).map_err(corrupt)?;
    let height = u16::try_from(h).map_err(corrupt)?;
    let mut pixels = Vec::with_capacity(w as usize * h as usize);
    fax::decoder::decode_g4(data.iter().copied(), width, Some(height), |transitions| {
        pixels.extend(fax::decoder::pels(transitions, width).map(|c| match c {
            fax::Color::Black => 0u8,
            fax::Color::White => 255u8,
        }));
    })
    .ok_or_else(|| corrupt("bad CCITT G4 data"))?;
    pixels.resize(w as usize * h as usize, 255);
    let mut grey = GrayImage::from_raw(w, h, pixels).ok_or_else(|| corrupt("short CCITT image"))?;
    if black_is_1 {
        image::imageops::invert(&mut grey);
    }
    Ok(grey)
}

/// Raw samples after Flate & co: 1, 2, 4, 8 or 16 bits, 1, 3 or 4 components.
fn decode_samples(
    pdf: &PdfFile,
    data: &[u8],
    dict: &Dictionary,
    w: u32,
    h: u32,
) -> Result<GrayImage, DecodeError> {
    let bits = int(dict, b"BitsPerComponent").unwrap_or(8);
    let mask = matches!(dict.get(b"ImageMask"), Ok(Object::Boolean(true)));
    let components = if mask {
        1
    } else {
        colour_components(pdf, dict)?
    };
    let bits = if mask { 1 } else { bits };
    if !matches!(bits, 1 | 2 | 4 | 8 | 16) {
        return Err(corrupt(format!("{bits} bits per component")));
    }
    let row_bytes = (w as usize)
        .checked_mul(components * bits as usize)
        .map(|b| b.div_ceil(8))
        .filter(|&b| b > 0)
        .ok_or_else(|| corrupt("image rows too long"))?;
    if row_bytes
        .checked_mul(h as usize)
        .is_none_or(|size| data.len() < size)
    {
        return Err(corrupt("image data shorter than its size"));
    }
    let max = ((1u32 << bits.min(8)) - 1) as f32;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for row in data.chunks_exact(row_bytes).take(h as usize) {
        for x in 0..w as usize {
            let sample = |c: usize| -> f32 {
                let i = x * components + c;
                let v = match bits {
                    8 => row[i] as u32,
                    16 => row[2 * i] as u32,
                    b => {
                        let bit = i * b as usize;
                        let byte = row[bit / 8] as u32;
                        (byte >> (8 - b as usize - bit % 8)) & ((1 << b) - 1)
                    }
                };
                v as f32 / max
            };
            let grey = match components {
                1 => sample(0),
                3 => 0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2),
                _ => {
                    (1.0 - sample(3))
                        * (1.0 - (0.3 * sample(0) + 0.59 * sample(1) + 0.11 * sample(2)))
                }
            };
            out.push((grey * 255.0).round().clamp(0.0, 255.0) as u8);
        }
    }
    // An image mask paints its 0 samples in black and leaves 1 as paper:
    // the same mapping as a grey image.
    GrayImage::from_raw(w, h, out).ok_or_else(|| corrupt("short image"))
}

fn colour_components(pdf: &PdfFile, dict: &Dictionary) -> Result<usize, DecodeError> {
    let space = dict.get(b"ColorSpace").ok().and_then(|o| pdf.resolve(o));
    let name = match space {
        Some(Object::Name(n)) => n.clone(),
        Some(Object::Array(a)) => match a.first() {
            Some(Object::Name(n)) if n == b"ICCBased" => {
                // An ICC profile stream says how many components it has.
                let n = a
                    .get(1)
                    .and_then(|o| pdf.resolve(o))
                    .and_then(|o| o.as_stream().ok())
                    .and_then(|s| int(&s.dict, b"N"));
                return match n {
                    Some(n @ (1 | 3 | 4)) => Ok(n as usize),
                    _ => Err(DecodeError::Unsupported("ICC profile".into())),
                };
            }
            Some(Object::Name(n)) => n.clone(),
            _ => Vec::new(),
        },
        _ => b"DeviceGray".to_vec(),
    };
    match name.as_slice() {
        b"DeviceGray" | b"CalGray" => Ok(1),
        b"DeviceRGB" | b"CalRGB" => Ok(3),
        b"DeviceCMYK" => Ok(4),
        other => Err(DecodeError::Unsupported(format!(
            "colour space {}",
            String::from_utf8_lossy(other)
        ))),
    }
}
