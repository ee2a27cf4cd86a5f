//! A staff member's decision, read from their reply to an approval request.
//!
//! The contract: the first line above any quoted text decides, case and
//! accents ignored: `APPROUVER`/`APPROVE`, or `REFUSER <raison>`/
//! `REFUSE <reason>`. Mail clients quote in many ways, so the fresh text is
//! everything above the first sign of quoting, signature or client footer.

use std::sync::LazyLock;

use mailparse::{parse_mail, DispositionType, ParsedMail};
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::fold::fold;
use super::html;

/// What a staff reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// The reason, for the applicant: trimmed, at most [`MAX_REASON_CHARS`].
    Refuse(String),
    /// No verb, an unknown verb, words after `APPROUVER`, or `REFUSER`
    /// without a reason: nothing is done, the staff member may reply again.
    Unclear,
}

/// Longest refusal reason kept, in characters; the rest is cut at a word.
pub const MAX_REASON_CHARS: usize = 1000;

/// Longest body read, in bytes. A decision is one line; the cap bounds the
/// work a hostile message can cause.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Deepest MIME nesting searched for the text part.
const MAX_DEPTH: usize = 8;

/// The decision in a raw staff reply (RFC 5322 bytes). A message that
/// cannot be parsed, or holds no text, is `Unclear`.
pub fn decision_of(raw: &[u8]) -> Decision {
    parse_mail(raw).map_or(Decision::Unclear, |mail| decision_in(&mail))
}

/// The decision in a parsed staff reply; no text part is `Unclear`.
pub fn decision_in(mail: &ParsedMail) -> Decision {
    body_text(mail).map_or(Decision::Unclear, |text| decide(&text))
}

/// The reply's own words as plain text: the first inline `text/plain`
/// part, else the first `text/html` one converted (quoted part dropped),
/// charsets and transfer encodings decoded, `format=flowed` joined.
pub fn body_text(mail: &ParsedMail) -> Option<String> {
    if let Some(part) = find_part(mail, "text/plain", 0) {
        let text = bounded(part.get_body().ok()?);
        let param = |key: &str, value: &str| {
            part.ctype
                .params
                .get(key)
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
        };
        return Some(if param("format", "flowed") {
            unflow(&text, param("delsp", "yes"))
        } else {
            text
        });
    }
    let part = find_part(mail, "text/html", 0)?;
    Some(html::fresh_text(&bounded(part.get_body().ok()?)))
}

/// Depth-first search for an inline part of type `mimetype`.
fn find_part<'a>(
    mail: &'a ParsedMail<'a>,
    mimetype: &str,
    depth: usize,
) -> Option<&'a ParsedMail<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    if mail.subparts.is_empty() {
        let inline = mail.get_content_disposition().disposition != DispositionType::Attachment;
        return (inline && mail.ctype.mimetype.eq_ignore_ascii_case(mimetype)).then_some(mail);
    }
    mail.subparts
        .iter()
        .find_map(|p| find_part(p, mimetype, depth + 1))
}

fn bounded(mut text: String) -> String {
    if text.len() > MAX_BODY_BYTES {
        let mut cut = MAX_BODY_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Joins `format=flowed` soft line breaks (RFC 3676: a line ending in a
/// space continues on the next; with `delsp=yes` that space is not part
/// of the text), leaving the `-- ` signature line alone. Space-stuffing is
/// kept: a stuffed ` >` is text, not a quote, and lines are trimmed later.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.ends_with(' ') && line != "-- " {
            out.push_str(if delsp { &line[..line.len() - 1] } else { line });
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The decision in a reply's plain text.
pub fn decide(text: &str) -> Decision {
    // Composed form, so that a decomposed `É` is one letter of the verb.
    let text: String = text.nfc().collect();
    let fresh = fresh_lines(&text);
    let mut lines = fresh.iter().map(|l| l.trim()).skip_while(|l| l.is_empty());
    let Some(first) = lines.next() else {
        return Decision::Unclear;
    };
    // Markup a client may leave around a word: `*APPROUVER*`, `« REFUSER`.
    let first = first.trim_start_matches(|c: char| !c.is_alphanumeric());
    let verb_end = first
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(first.len());
    let (verb, rest) = first.split_at(verb_end);
    match fold(verb).as_str() {
        "approuver" | "approve" if only_politeness(rest) => Decision::Approve,
        "refuser" | "refuse" => {
            let head =
                rest.trim_start_matches(|c: char| c.is_whitespace() || ":-–—,.*_".contains(c));
            let reason = std::iter::once(head)
                .chain(lines)
                .collect::<Vec<_>>()
                .join("\n");
            let reason = squeeze_blank_lines(reason.trim());
            if reason.is_empty() {
                Decision::Unclear
            } else {
                Decision::Refuse(truncate_at_word(&reason, MAX_REASON_CHARS))
            }
        }
        _ => Decision::Unclear,
    }
}

/// The lines of `text` above the first quote, attribution, forwarded
/// header block, signature, closing formula or client footer.
pub fn fresh_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let cut = (0..lines.len())
        .find(|&i| starts_quoted_part(&lines[i..]))
        .unwrap_or(lines.len());
    lines[..cut].to_vec()
}

/// Lines an attribution may be folded over (`Le … à 09:12, X <x@y> a` /
/// `écrit :`): long names and addresses push it past one line.
const ATTRIBUTION_SPAN: usize = 3;

/// Lines after a `From:`/`De :` line searched for the rest of a header block.
const HEADER_BLOCK_SPAN: usize = 5;

static ATTRIBUTION_EN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^on\b.*\bwrote\s*:$").expect("static regex"));
static ATTRIBUTION_FR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^le\b.*\ba\s+ecrit\s*:$").expect("static regex"));
static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^-{2,}\s*(original message|message d'origine|forwarded message|message transfere)\s*-{2,}$")
        .expect("static regex")
});
static HEADER_FROM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\*?(from|de)\s*:").expect("static regex"));
static HEADER_OTHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\*?(sent|envoye|date|to|a|cc|subject|objet)\s*:").expect("static regex")
});
static VALEDICTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(bien |tres )?(cordialement|amicalement|salutations|merci( beaucoup)?|bonne journee|best( regards)?|(kind )?regards|thanks|thank you|cheers)[ ,.!]*$")
        .expect("static regex")
});
static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(sent from (my|outlook|mail for)|envoye (de|depuis) mon|envoye (a partir de|depuis) (outlook|courrier)|get outlook for|obtenir outlook pour|telecharger outlook pour)\b")
        .expect("static regex")
});

/// Whether the quoted part (or what follows the reply's own words) starts
/// at the first of `lines`.
fn starts_quoted_part(lines: &[&str]) -> bool {
    let Some(first) = lines.first() else {
        return false;
    };
    if first.trim_end() == "--" {
        return true;
    }
    // Quotes start at the margin; ` >` is a space-stuffed line of text.
    if first.starts_with('>') {
        return true;
    }
    let line = fold(first.trim());
    // A closing formula on its own line: the staff member's name follows,
    // which the applicant need not see in a refusal.
    if ORIGINAL_MESSAGE.is_match(&line) || FOOTER.is_match(&line) || VALEDICTION.is_match(&line) {
        return true;
    }
    // Outlook's separator line above its header block.
    if line.len() >= 20 && line.chars().all(|c| c == '_') {
        return true;
    }
    if HEADER_FROM.is_match(&line) {
        return lines
            .iter()
            .skip(1)
            .take(HEADER_BLOCK_SPAN)
            .any(|l| HEADER_OTHER.is_match(&fold(l.trim())));
    }
    if line.starts_with("on ") || line.starts_with("le ") {
        let mut joined = String::new();
        for l in lines.iter().take(ATTRIBUTION_SPAN) {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(&fold(l.trim()));
            if ATTRIBUTION_EN.is_match(&joined) || ATTRIBUTION_FR.is_match(&joined) {
                return true;
            }
        }
    }
    false
}

/// Whether what follows `APPROUVER` on its line adds nothing to it:
/// punctuation, or a closing formula (`APPROUVER, merci`). Anything else
/// (`APPROUVER sauf…`) makes the approval unclear, since it issues
/// credentials and must not be taken from a conditional answer.
fn only_politeness(rest: &str) -> bool {
    let words = fold(rest.trim_start_matches(|c: char| !c.is_alphanumeric()));
    !words.chars().any(char::is_alphanumeric) || VALEDICTION.is_match(words.trim())
}

/// Collapses runs of blank lines to one.
fn squeeze_blank_lines(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if !(line.trim().is_empty() && out.last().is_some_and(|l| l.trim().is_empty())) {
            out.push(line);
        }
    }
    out.join("\n")
}

/// `text` cut to at most `max` characters, at a word boundary when one is
/// near, with `…` marking the cut.
fn truncate_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let hard: String = text.chars().take(max.saturating_sub(1)).collect();
    let soft = match hard.rfind(char::is_whitespace) {
        Some(i) if i >= hard.len() / 2 => &hard[..i],
        _ => hard.as_str(),
    };
    format!("{}…", soft.trim_end())
}
