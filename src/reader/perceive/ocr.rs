//! Zonal OCR with Tesseract: one engine per language set and per thread,
//! made once and reused for every crop that thread reads (an engine costs
//! far more to start than a field costs to read, and is not `Sync`).

use std::cell::RefCell;
use std::collections::HashMap;

use image::GrayImage;
use tesseract::{PageSegMode, Tesseract};

/// The languages of the form: French first, English second.
pub const LANGUAGES: &str = "fra+eng";
/// French alone, for names (English data only adds wrong guesses there).
pub const FRENCH: &str = "fra";

/// One recognised word and Tesseract's confidence in it (0–1).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub confidence: f32,
}

/// How to read one crop.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Characters the engine may answer with; empty for any.
    pub whitelist: &'static str,
    pub mode: PageSegMode,
    /// Tesseract language set, e.g. `fra+eng`.
    pub languages: &'static str,
    /// The crop's resolution, in dots per inch.
    pub dpi: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("OCR failed: {0}")]
pub struct OcrError(String);

thread_local! {
    static ENGINES: RefCell<HashMap<&'static str, Tesseract>> = RefCell::new(HashMap::new());
}

/// The environment variable that caps Tesseract's OpenMP threads. Debian's
/// libtesseract runs parts of its network on up to ten OpenMP threads that
/// spin while they wait: on small field crops that multiplies CPU time
/// (×4 seen here) for no gain, and workers already run in parallel.
/// OpenMP reads it once, when the library loads, so it must be in the
/// environment before the process starts: see [`reexec_with_single_thread_ocr`].
pub const OMP_THREAD_LIMIT: &str = "OMP_THREAD_LIMIT";

/// Makes sure this process runs with `OMP_THREAD_LIMIT=1`: if it does not,
/// re-executes the same program with the same arguments and that variable
/// set, and does not return. Call it first thing in `main`.
pub fn reexec_with_single_thread_ocr() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(OMP_THREAD_LIMIT).is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(OMP_THREAD_LIMIT, "1")
        .exec();
    Err(err)
}

/// Starts this thread's engines, so that a missing language pack shows at
/// start-up and the first form read here does not pay for loading them.
pub fn start_engines() -> Result<(), OcrError> {
    if std::env::var_os(OMP_THREAD_LIMIT).is_none() {
        tracing::warn!(
            "{OMP_THREAD_LIMIT} is not set: OCR will burn several times the CPU it needs"
        );
    }
    ENGINES.with(|engines| {
        let mut engines = engines.borrow_mut();
        for languages in [FRENCH, LANGUAGES] {
            if !engines.contains_key(languages) {
                engines.insert(languages, engine(languages)?);
            }
        }
        Ok(())
    })
}

/// A new engine for `languages`.
fn engine(languages: &'static str) -> Result<Tesseract, OcrError> {
    Tesseract::new(None, Some(languages))
        .map_err(|e| OcrError(format!("cannot start Tesseract with `{languages}`: {e}")))
}

/// Reads the words of a crop with this thread's engine.
pub fn read(crop: &GrayImage, settings: Settings) -> Result<Vec<Word>, OcrError> {
    ENGINES.with(|engines| {
        let mut engines = engines.borrow_mut();
        let languages = settings.languages;
        let engine = match engines.remove(languages) {
            Some(e) => e,
            None => engine(languages)?,
        };
        // The builder API consumes the engine; it is put back only when
        // every step worked, so a failed engine is never reused.
        let (engine, tsv) = run(engine, crop, settings)?;
        engines.insert(languages, engine);
        Ok(parse_tsv(&tsv))
    })
}

fn run(
    engine: Tesseract,
    crop: &GrayImage,
    settings: Settings,
) -> Result<(Tesseract, String), OcrError> {
    let err = |e: &dyn std::fmt::Display| OcrError(e.to_string());
    let (w, h) = (crop.width() as i32, crop.height() as i32);
    let mut engine = engine
        .set_variable("tessedit_char_whitelist", settings.whitelist)
        .map_err(|e| err(&e))?
        .set_frame(crop.as_raw(), w, h, 1, w)
        .map_err(|e| err(&e))?
        .set_source_resolution(settings.dpi as i32);
    engine.set_page_seg_mode(settings.mode);
    let mut engine = engine.recognize().map_err(|e| err(&e))?;
    let tsv = engine.get_tsv_text(0).map_err(|e| err(&e))?;
    Ok((engine, tsv))
}

/// Word rows (level 5) of Tesseract's TSV output.
fn parse_tsv(tsv: &str) -> Vec<Word> {
    tsv.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                return None;
            }
            let confidence: f32 = cols[10].parse().ok()?;
            let text = cols[11].trim();
            (!text.is_empty()).then(|| Word {
                text: text.to_string(),
                confidence: (confidence / 100.0).clamp(0.0, 1.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_keep_their_confidence() {
        let tsv = "1\t1\t0\t0\t0\t0\t0\t0\t100\t20\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t2\t3\t40\t18\t96.5\tBenoît\n\
                   5\t1\t1\t1\t1\t2\t50\t3\t40\t18\t41\tO'Brien\n";
        let words = parse_tsv(tsv);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].text, "Benoît");
        assert!((words[0].confidence - 0.965).abs() < 1e-6);
        assert!((words[1].confidence - 0.41).abs() < 1e-6);
    }
}
