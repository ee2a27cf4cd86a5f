//! Rendering pages that are not bare scans (typed PDFs, filled AcroForms,
//! pasted signature images, JBIG2 or JPEG 2000 scans) with poppler's
//! `pdftoppm`, run as a child process: a renderer fed hostile input is kept
//! out of our address space, under an address-space limit (`prlimit`) and a
//! wall-clock watchdog that kills it.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::GrayImage;

use crate::reader::limits;

#[derive(Debug, thiserror::Error)]
#[error("rendering failed: {0}")]
pub struct RenderError(pub String);

/// Renders page `number` (1-based) of `pdf` in grey at `dpi`, killing the
/// renderer after `time`.
pub fn render_page(
    pdf: &[u8],
    number: u32,
    dpi: u32,
    time: Duration,
) -> Result<GrayImage, RenderError> {
    let page = number.to_string();
    let dpi_arg = dpi.to_string();
    let memory = format!("--as={}", limits::RENDER_MEMORY_BYTES);
    let mut child = Command::new("prlimit")
        .args([
            memory.as_str(),
            "--",
            "pdftoppm",
            "-q",
            "-gray",
            "-r",
            &dpi_arg,
        ])
        .args(["-f", &page, "-l", &page, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| RenderError(format!("cannot run pdftoppm: {e}")))?;

    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| RenderError("no stdin".into()))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| RenderError("no stdout".into()))?;
    let input = pdf.to_vec();
    let writer = std::thread::spawn(move || {
        // A renderer that stops reading early is fine: its output decides.
        let _ = stdin.write_all(&input);
    });
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let cap = limits::MAX_PAGE_PIXELS + 64;
        stdout
            .by_ref()
            .take(cap + 1)
            .read_to_end(&mut out)
            .map(|_| out)
    });

    let deadline = Instant::now() + time;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    let output = reader
        .join()
        .map_err(|_| RenderError("reader thread failed".into()))?
        .map_err(|e| RenderError(e.to_string()))?;
    match status {
        None => Err(RenderError(format!("pdftoppm took over {time:?}"))),
        Some(s) if !s.success() => Err(RenderError(format!("pdftoppm failed: {s}"))),
        Some(_) => parse_pgm(&output),
    }
}

/// A binary PGM (`P5`, 8-bit) as pdftoppm writes it.
fn parse_pgm(data: &[u8]) -> Result<GrayImage, RenderError> {
    let bad = |why: &str| RenderError(format!("bad PGM: {why}"));
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while pos < data.len() && data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if data.get(pos) == Some(&b'#') {
            while pos < data.len() && data[pos] != b'\n' {
                pos += 1;
            }
            continue;
        }
        let start = pos;
        while pos < data.len() && !data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if start == pos {
            return Err(bad("short header"));
        }
        fields.push(std::str::from_utf8(&data[start..pos]).map_err(|_| bad("header"))?);
    }
    pos += 1; // the single whitespace after maxval
    if fields[0] != "P5" || fields[3] != "255" {
        return Err(bad("not an 8-bit P5"));
    }
    let w: u32 = fields[1].parse().map_err(|_| bad("width"))?;
    let h: u32 = fields[2].parse().map_err(|_| bad("height"))?;
    let pixels = (w as usize)
        .checked_mul(h as usize)
        .and_then(|n| data.get(pos..pos.checked_add(n)?))
        .ok_or_else(|| bad("short data"))?;
    GrayImage::from_raw(w, h, pixels.to_vec()).ok_or_else(|| bad("size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgm_header_and_pixels() {
        let pgm = b"P5\n# made here\n2 1\n255\n\x00\xff";
        let img = parse_pgm(pgm).unwrap();
        assert_eq!(img.dimensions(), (2, 1));
        assert_eq!(img.as_raw(), &vec![0, 255]);
        assert!(parse_pgm(b"P5\n2 2\n255\n\x00").is_err());
    }
}
