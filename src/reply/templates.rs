//! Reply templates: plain-text files an operator can edit, with `{{name}}`
//! placeholders, and per-language phrase files (`key = text`).
//!
//! The built-in copies under `templates/` are compiled in; an operator's
//! directory overrides them file by file. The engine does nothing but
//! substitute named values: no logic, no includes, so a template cannot do
//! harm, and the HTML version is the escaped text.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use super::clean;
use crate::domain::Reason;

/// The two languages of every message, French first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    /// In the order they appear in a message.
    pub const BOTH: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

macro_rules! builtin_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

/// Every template file, with its built-in text.
const BUILTIN: &[(&str, &str)] = builtin_files!(
    "bilingual.txt",
    "phrases.fr.txt",
    "phrases.en.txt",
    "email-criteria.fr.txt",
    "email-criteria.en.txt",
    "ack.fr.txt",
    "ack.en.txt",
    "correction.fr.txt",
    "correction.en.txt",
    "rejection.fr.txt",
    "rejection.en.txt",
    "instructions.fr.txt",
    "instructions.en.txt",
    "approval-request.fr.txt",
    "approval-request.en.txt",
    "approved.fr.txt",
    "approved.en.txt",
    "refused.fr.txt",
    "refused.en.txt",
    "username.fr.txt",
    "username.en.txt",
    "temporary-password.fr.txt",
    "temporary-password.en.txt",
    "digest.fr.txt",
    "digest.en.txt",
    "staff-notice.fr.txt",
    "staff-notice.en.txt",
);

/// The blank form sent with instructions (the official DA-100, as shipped).
const BLANK_FORM: &[u8] = include_bytes!("../../data/da-100/blank.pdf");

/// An operator's template file larger than this is refused.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Why an operator's template directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template {0} is larger than 64 KiB")]
    TooLarge(String),
}

/// The reply texts: template files, phrases, and the blank form.
#[derive(Debug, Clone)]
pub struct Templates {
    files: BTreeMap<&'static str, String>,
    /// `phrases.<lang>.txt`, parsed: French then English.
    phrases: [BTreeMap<String, String>; 2],
}

impl Templates {
    /// The templates shipped with guichet.
    pub fn builtin() -> Templates {
        Templates::from_files(BUILTIN.iter().map(|(name, text)| (*name, text.to_string())))
    }

    /// The templates of an operator's directory; a file it lacks is taken
    /// from the built-in set.
    /// The directory itself must exist: a mistyped path should not go
    /// unnoticed behind the built-in texts.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        std::fs::read_dir(dir).map_err(|source| TemplateError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        let mut files = Vec::with_capacity(BUILTIN.len());
        for (name, builtin) in BUILTIN {
            let path = dir.join(name);
            let read_error = |source| TemplateError::Read {
                path: path.display().to_string(),
                source,
            };
            let text = match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin.to_string(),
                Err(e) => return Err(read_error(e)),
                Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                    return Err(TemplateError::TooLarge(path.display().to_string()))
                }
                Ok(_) => std::fs::read_to_string(&path).map_err(read_error)?,
            };
            files.push((*name, text));
        }
        Ok(Templates::from_files(files))
    }

    fn from_files(files: impl IntoIterator<Item = (&'static str, String)>) -> Templates {
        let files: BTreeMap<&'static str, String> = files.into_iter().collect();
        let phrases = Lang::BOTH.map(|lang| {
            parse_phrases(
                files
                    .get(format!("phrases.{}.txt", lang.code()).as_str())
                    .map_or("", String::as_str),
            )
        });
        Templates { files, phrases }
    }

    /// The official blank DA-100.
    pub fn blank_form(&self) -> &'static [u8] {
        BLANK_FORM
    }

    /// A template file, filled in (`name` without the `.txt`).
    pub fn fill(&self, name: &str, vars: &[(&str, &str)]) -> String {
        let text = self
            .files
            .get(format!("{name}.txt").as_str())
            .map_or("", String::as_str);
        fill(text, vars)
    }

    /// The message in both languages, French first: `kind.fr.txt` and
    /// `kind.en.txt` filled with each language's values, joined by
    /// `bilingual.txt`.
    pub fn bilingual(
        &self,
        kind: &str,
        vars: impl Fn(Lang) -> Vec<(&'static str, String)>,
    ) -> String {
        let [fr, en] = Lang::BOTH.map(|lang| {
            let vars = vars(lang);
            let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.fill(&format!("{kind}.{}", lang.code()), &refs)
        });
        self.fill("bilingual", &[("fr", &fr), ("en", &en)])
    }

    /// A phrase, filled in; the key itself when the phrase file lacks it, so
    /// that a gap shows instead of silently dropping a sentence.
    pub fn phrase(&self, lang: Lang, key: &str, vars: &[(&str, &str)]) -> String {
        match self.lookup(lang, key) {
            Some(text) => fill(text, vars),
            None => key.to_string(),
        }
    }

    fn lookup(&self, lang: Lang, key: &str) -> Option<&str> {
        let table = match lang {
            Lang::Fr => &self.phrases[0],
            Lang::En => &self.phrases[1],
        };
        table.get(key).map(String::as_str)
    }

    /// The plain-words sentence for a reason code: the phrase for the whole
    /// code (`missing_field:employer.licence`) if there is one, else the one
    /// for its head (`missing_field`) with `{{field}}` named in words.
    pub fn reason(&self, lang: Lang, code: &str) -> String {
        if self.lookup(lang, code).is_some() {
            return self.phrase(lang, code, &[]);
        }
        let (head, field) = code.split_once(':').unwrap_or((code, ""));
        let label = self.phrase(lang, &format!("field.{field}"), &[]);
        self.phrase(lang, head, &[("field", &label)])
    }

    /// The sentence for a reason: as [`Templates::reason`], but naming the
    /// pages to scan again, which the code alone does not carry.
    pub fn reason_of(&self, lang: Lang, reason: &Reason) -> String {
        match reason {
            Reason::IncompleteScan(pages) if !pages.is_empty() => pages
                .iter()
                .map(|page| self.phrase(lang, "incomplete_scan", &[("page", &page.to_string())]))
                .collect::<Vec<_>>()
                .join(" "),
            Reason::IncompleteScan(_) => self.phrase(lang, "incomplete_scan.any", &[]),
            other => self.reason(lang, &other.to_string()),
        }
    }

    /// A date in words: «20 novembre 2024», "November 20, 2024".
    pub fn date(&self, lang: Lang, date: NaiveDate) -> String {
        let months = self.phrase(lang, "months", &[]);
        let month = months
            .split_whitespace()
            .nth(date.month0() as usize)
            .map_or_else(|| format!("{:02}", date.month()), String::from);
        self.phrase(
            lang,
            "date",
            &[
                ("day", &date.day().to_string()),
                ("month", &month),
                ("year", &date.year().to_string()),
            ],
        )
    }
}

/// `key = text` lines; `#` at the start of a line is a comment.
fn parse_phrases(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// Substitutes `{{name}}` placeholders. A name with no value becomes empty;
/// anything that is not a well-formed placeholder is left as written. Values
/// are cleaned of control characters (line breaks kept: blocks are values
/// too), and runs of blank lines left by empty values are closed up.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_end = after.find("}}").filter(|&end| is_name(&after[..end]));
        match name_end {
            Some(end) => {
                let name = &after[..end];
                if let Some((_, value)) = vars.iter().find(|(k, _)| *k == name) {
                    out.push_str(&clean::text(value));
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    close_up_blank_lines(&out)
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
}

/// Trailing spaces removed, at most one blank line in a row, no blank lines
/// (nor a final line break) at either end.
fn close_up_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

/// The HTML version of a text: every character escaped, paragraphs as `<p>`,
/// line breaks kept. `extra` is HTML built by guichet itself (images).
pub fn to_html(text: &str, extra: &str) -> String {
    let paragraphs: String = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(escape).collect();
            format!("<p>{}</p>\n", lines.join("<br>\n"))
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head>\n<body>\n{paragraphs}{extra}</body></html>\n"
    )
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes_names_only() {
        let vars = [("name", "Léa"), ("id", "DA-2024-000001")];
        assert_eq!(
            fill("Bonjour {{name}} ({{id}})", &vars),
            "Bonjour Léa (DA-2024-000001)"
        );
        assert_eq!(fill("{{unknown}}x", &vars), "x");
        assert_eq!(
            fill("{{ name }} {{Name}} {{", &vars),
            "{{ name }} {{Name}} {{"
        );
        assert_eq!(fill("a\n\n{{unknown}}\n\n\nb", &vars), "a\n\nb");
        // A value cannot smuggle control characters into the text.
        assert_eq!(fill("{{name}}", &[("name", "a\u{0}\u{1b}[2Jb")]), "a[2Jb");
        // Values are not themselves templates.
        assert_eq!(fill("{{name}}", &[("name", "{{id}}")]), "{{id}}");
    }

    #[test]
    fn html_escapes_everything() {
        let html = to_html("<b>Tom & \"Jerry\"</b>\nline\n\nnext", "");
        assert!(html.contains("<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;<br>\nline</p>"));
        assert!(html.contains("<p>next</p>"));
    }

    #[test]
    fn builtin_phrases_cover_every_reason_in_both_languages() {
        let t = Templates::builtin();
        let codes = [
            "no_attachment",
            "too_large",
            "not_pdf",
            "encrypted_pdf",
            "unreadable_pdf",
            "unknown_form",
            "multi_form",
            "duplicate",
            "missing_signature:employer",
            "missing_signature:user",
            "missing_field:employer.last_name",
            "missing_field:employer.licence",
            "missing_field:user.birth_date",
            "invalid_email:employer",
            "invalid_email:user",
            "same_email",
            "shared_email:employer",
            "shared_email:user",
            "email_in_use:employer",
            "email_in_use:user",
            "service_count",
            "illegible:user.email",
        ];
        for lang in Lang::BOTH {
            for code in codes {
                let sentence = t.reason(lang, code);
                assert_ne!(sentence, code, "{code} has no phrase");
                assert!(!sentence.contains("field."), "{code}: {sentence}");
                assert!(sentence.len() > 20, "{code}: {sentence}");
            }
        }
        assert_eq!(
            t.reason_of(Lang::Fr, &Reason::IncompleteScan(vec![2])),
            "La page 2 du formulaire est coupée, trop sombre ou floue : \
             numérisez de nouveau la page 2, en entier."
        );
        assert_eq!(
            t.reason_of(Lang::En, &Reason::IncompleteScan(vec![1, 2])),
            "Page 1 of the form is cut off, too dark or blurred: scan page 1 again, whole. \
             Page 2 of the form is cut off, too dark or blurred: scan page 2 again, whole."
        );
        for lang in Lang::BOTH {
            let any = t.reason_of(lang, &"incomplete_scan".parse().unwrap());
            assert!(any.len() > 20 && !any.contains("{{"), "{any}");
        }
        assert_eq!(
            t.reason(Lang::Fr, "missing_field:user.job_title"),
            "Il manque le champ « fonction de l'utilisateur »."
        );
    }

    #[test]
    fn dates_in_words() {
        let t = Templates::builtin();
        let d = NaiveDate::from_ymd_opt(2024, 11, 20).unwrap();
        assert_eq!(t.date(Lang::Fr, d), "20 novembre 2024");
        assert_eq!(t.date(Lang::En, d), "November 20, 2024");
    }

    #[test]
    fn an_operator_directory_overrides_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ack.fr.txt"), "Reçu : {{items}}").unwrap();
        let t = Templates::load(dir.path()).unwrap();
        assert_eq!(t.fill("ack.fr", &[("items", "x")]), "Reçu : x");
        assert_eq!(
            t.fill("ack.en", &[]),
            Templates::builtin().fill("ack.en", &[])
        );
        std::fs::write(dir.path().join("ack.en.txt"), vec![b'a'; 70 * 1024]).unwrap();
        assert!(matches!(
            Templates::load(dir.path()),
            Err(TemplateError::TooLarge(_))
        ));
        assert!(matches!(
            Templates::load(&dir.path().join("missing")),
            Err(TemplateError::Read { .. })
        ));
    }
}
