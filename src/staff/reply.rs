//! A staff member's decision, read from their reply to an approval request.
//!
//! The contract: the first line above any quoted text decides, case and
//! accents ignored: `APPROUVER`/`APPROVE`, `REFUSER <raison>`/
//! `REFUSE <reason>` or `CORRIGER <message>`/`CORRECT <message>`; field
//! lines (`<field> : <value>`) below it set fields. Mail clients quote in
//! many ways and many languages, so the fresh text is everything above the
//! first sign of quoting: the text of the approval request itself (guichet
//! knows it: [`Context::sent`]), with or without `>` prefixes; an
//! attribution or header block in any of the common languages; a
//! signature, a closing formula or a client footer.

use std::sync::LazyLock;

use mailparse::{parse_mail, DispositionType, ParsedMail};
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::html;
use crate::fold::fold;

/// What a staff reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// The reason, for the applicant: trimmed, at most [`MAX_REASON_CHARS`].
    Refuse(String),
    /// The message for the applicant, who is asked to send a corrected
    /// form: trimmed, at most [`MAX_REASON_CHARS`].
    Correct(String),
    /// No verb, an unknown verb, words after `APPROUVER`, or a verb that
    /// needs a message without one: nothing is done, the staff member is
    /// told why ([`Reading::unclear`]) and may answer again.
    Unclear,
}

/// Why a reply's first line decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unclear {
    /// Nothing written above the quote.
    Empty,
    /// The first line holds no known verb.
    NoVerb,
    /// `APPROUVER` followed by words (`APPROUVER sauf…`): conditional.
    Conditional,
    /// `REFUSER` or `CORRIGER` without the message for the applicant.
    NoMessage,
}

/// A `<field> : <value>` line below the first line, as written: the field
/// is resolved against ids and labels by the caller, who knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLine {
    pub field: String,
    pub value: String,
}

/// Everything a reply says: the decision, the field lines written with an
/// approval, and why an unclear reply is unclear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub decision: Decision,
    pub fields: Vec<FieldLine>,
    pub unclear: Option<Unclear>,
}

/// What guichet knows about the message a reply answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The text of the approval request guichet sent (plain text, and the
    /// HTML part's text): where its lines begin in the reply, the quote does.
    pub sent: Option<&'a str>,
    /// The display name in the reply's `From`: a line holding only it (or
    /// its first word) starts the signature.
    pub signer: Option<&'a str>,
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

/// The text of an HTML document, for matching a quote against what
/// guichet sent (its approval request holds no quotation container).
pub fn html_text(html_source: &str) -> String {
    html::fresh_text(html_source)
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

/// The decision in a reply's plain text, knowing nothing of what it answers.
pub fn decide(text: &str) -> Decision {
    read(text, &Context::default()).decision
}

/// Everything a reply's plain text says.
pub fn read(text: &str, context: &Context) -> Reading {
    // Composed form, so that a decomposed `É` is one letter of the verb.
    let text: String = text.nfc().collect();
    let fresh = fresh_lines(&text, context);
    let mut lines = fresh.iter().map(|l| l.trim()).skip_while(|l| l.is_empty());
    let unclear = |why| Reading {
        decision: Decision::Unclear,
        fields: vec![],
        unclear: Some(why),
    };
    let Some(first) = lines.next() else {
        return unclear(Unclear::Empty);
    };
    // Markup a client may leave around a word: `*APPROUVER*`, `« REFUSER`.
    let first = first.trim_start_matches(|c: char| !c.is_alphanumeric());
    let verb_end = first
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(first.len());
    let (verb, rest) = first.split_at(verb_end);
    let verb = fold(verb);
    match verb.as_str() {
        "approuver" | "approve" if only_politeness(rest) => Reading {
            decision: Decision::Approve,
            fields: lines.filter_map(field_line).collect(),
            unclear: None,
        },
        "approuver" | "approve" => unclear(Unclear::Conditional),
        "refuser" | "refuse" | "corriger" | "correct" => {
            let head =
                rest.trim_start_matches(|c: char| c.is_whitespace() || ":-–—,.*_".contains(c));
            let message = std::iter::once(head)
                .chain(lines)
                .collect::<Vec<_>>()
                .join("\n");
            let message = squeeze_blank_lines(message.trim());
            if !message.chars().any(char::is_alphanumeric) {
                return unclear(Unclear::NoMessage);
            }
            let message = truncate_at_word(&message, MAX_REASON_CHARS);
            Reading {
                decision: if verb.starts_with("ref") {
                    Decision::Refuse(message)
                } else {
                    Decision::Correct(message)
                },
                fields: vec![],
                unclear: None,
            }
        }
        _ => unclear(Unclear::NoVerb),
    }
}

/// `<field> : <value>` or `<field> = <value>`: a short name of letters,
/// digits, dots, apostrophes and spaces, then the value. A line that is
/// not one is `None`.
pub fn field_line(line: &str) -> Option<FieldLine> {
    static FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[-*•]?\s*([\p{L}][\p{L}\p{N}._'’ \u{a0}-]{1,60}?)\s*[:=]\s*(.*)$")
            .expect("static regex")
    });
    let caps = FIELD.captures(line.trim())?;
    Some(FieldLine {
        field: caps[1].trim().to_string(),
        value: caps[2].trim().to_string(),
    })
}

/// The lines of `text` above the first quote, attribution, forwarded
/// header block, signature, closing formula or client footer.
pub fn fresh_lines<'t>(text: &'t str, context: &Context) -> Vec<&'t str> {
    let lines: Vec<&str> = text.lines().collect();
    let sent = context.sent.map(normalised);
    let signer = context.signer.map(fold).map(|s| trim_name(&s).to_string());
    let cut = (0..lines.len())
        .find(|&i| {
            starts_quoted_part(&lines[i..])
                || sent
                    .as_deref()
                    .is_some_and(|sent| quotes_sent(&lines[i..], sent))
                || (i > 0
                    && signer
                        .as_deref()
                        .is_some_and(|name| is_signer(lines[i], name)))
        })
        .unwrap_or(lines.len());
    lines[..cut].to_vec()
}

/// Lines an attribution may be folded over (`Le … à 09:12, X <x@y> a` /
/// `écrit :`): long names and addresses push it past one line.
const ATTRIBUTION_SPAN: usize = 3;

/// Longest attribution, in characters, once its lines are joined.
const MAX_ATTRIBUTION_CHARS: usize = 400;

/// Lines after a `From:`/`De :` line searched for the rest of a header block.
const HEADER_BLOCK_SPAN: usize = 5;

/// A run of the reply's lines this long (in characters, once normalised)
/// found in the approval request sent is its quote.
const QUOTE_PROBE_CHARS: usize = 24;

/// Verbs of attribution lines (`X wrote:`), folded, in the languages staff
/// mail clients speak.
static ATTRIBUTION_VERB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(wrote|writes|ecrit|schrieb|geschrieben|scritto|escribio|escreveu|geschreven|schreef|skrev|skriver|irta|napisal|napisala|pisze|написал|написала|пишет|kirjoitti|napsal|scrie|yazdi)\b",
    )
    .expect("static regex")
});
static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^-{2,}\s*(original message|message d'origine|message original|mail original|forwarded message|",
        r"message transfere|ursprungliche nachricht|weitergeleitete nachricht|",
        r"messaggio originale|messaggio inoltrato|mensaje original|mensaje reenviado|",
        r"mensagem original|mensagem encaminhada|oorspronkelijk bericht|doorgestuurd bericht|",
        r"ursprungligt meddelande|vidarebefordrat meddelande|oprindelig meddelelse|",
        r"videresendt meddelelse|opprinnelig melding|videresendt melding|eredeti uzenet|",
        r"tovabbitott uzenet|oryginalna wiadomosc|przekazana wiadomosc|исходное сообщение|",
        r"пересылаемое сообщение|alkuperainen viesti)\s*-{2,}$"
    ))
    .expect("static regex")
});
static FORWARD_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(begin forwarded message|debut du message reexpedie|anfang der weitergeleiteten nachricht|inizio messaggio inoltrato)\s*:$")
        .expect("static regex")
});
static HEADER_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\*?(from|de|von|da|van|fra|fran|od|от|felado|kimden|lahettaja)\s*\*?\s*:")
        .expect("static regex")
});
static HEADER_OTHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(^|\s)\*?(sent|envoye|envoye le|date|datum|data|fecha|gesendet|inviato|enviado|enviada|",
        r"verzonden|verstuurd|skickat|sendt|elkuldve|wyslano|wyslane|отправлено|дата|",
        r"to|a|an|para|aan|till|til|do|cimzett|кому|cc|subject|objet|betreff|oggetto|",
        r"asunto|assunto|onderwerp|amne|emne|targy|temat|тема|lahetetty|aihe)\s*\*?\s*:"
    ))
    .expect("static regex")
});
static VALEDICTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(bien |tres |mes |sinceres )?(cordialement|amicalement|salutations|merci( beaucoup| bien)?|",
        r"bonne journee|a bientot|best( regards| wishes)?|(kind |warm |best )?regards|thanks|",
        r"thank you|cheers|mit freundlichen grussen|freundliche grusse|viele grusse|",
        r"beste grusse|gruss|grusse|lg|mfg|cordiali saluti|distinti saluti|saluti|",
        r"un saluto|grazie|saludos( cordiales)?|atentamente|un saludo|gracias|",
        r"atenciosamente|cumprimentos|obrigad[oa]|abracos|met vriendelijke groet(en)?|",
        r"vriendelijke groet(en)?|groeten|bedankt|med vanlig halsning|vanliga halsningar|",
        r"mvh|med venlig hilsen|venlig hilsen|med vennlig hilsen|hilsen|tack|tak|",
        r"udvozlettel|koszonom|pozdrawiam|z powazaniem|dziekuje|с уважением|спасибо|",
        r"ystavallisin terveisin)[ ,.!:]*$"
    ))
    .expect("static regex")
});
static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(sent from (my|outlook|mail for|yahoo)|sent with |envoye (de|depuis) (mon|yahoo)|",
        r"envoye (a partir de|depuis) (outlook|courrier|mon)|get outlook for|obtenir outlook pour|",
        r"telecharger outlook pour|von meinem .* gesendet|gesendet von|enviado desde|",
        r"enviado do meu|enviado a partir do|inviato da|verzonden (vanaf|met) |",
        r"skickat fran|sendt fra|elkuldve .*rol|wyslane z|отправлено с|",
        r"(tel|tél|phone|telephone|mobile|cell|fax|poste|ext)\s*[.:]?\s*[+(0-9])",
    ))
    .expect("static regex")
});

/// Whether the quoted part (or what follows the reply's own words) starts
/// at the first of `lines`.
fn starts_quoted_part(lines: &[&str]) -> bool {
    let Some(first) = lines.first() else {
        return false;
    };
    if first.trim_end() == "--" || first.trim_end() == "—" {
        return true;
    }
    // Quotes start at the margin; ` >` is a space-stuffed line of text.
    if first.starts_with('>') {
        return true;
    }
    let line = fold(first.trim());
    // A closing formula on its own line: the staff member's name follows,
    // which the applicant need not see in a refusal.
    if ORIGINAL_MESSAGE.is_match(&line)
        || FORWARD_INTRO.is_match(&line)
        || FOOTER.is_match(&line)
        || VALEDICTION.is_match(&line)
    {
        return true;
    }
    // Outlook's separator line above its header block.
    if line.len() >= 20 && line.chars().all(|c| c == '_') {
        return true;
    }
    if HEADER_FROM.is_match(&line) {
        let rest = HEADER_FROM.replace(&line, "");
        return HEADER_OTHER.is_match(&rest)
            || lines
                .iter()
                .skip(1)
                .take(HEADER_BLOCK_SPAN)
                .any(|l| HEADER_OTHER.is_match(&fold(l.trim())));
    }
    is_attribution(lines)
}

/// An attribution line, possibly folded over a few lines: it ends with a
/// colon (Zoho frames it with dashes instead) and names the writer with a
/// verb of writing, or with an address and a date (Mail.ru's
/// `…, 9:12 +03:00 от X <x@y>:`). Folded over several lines, it starts
/// the way attributions start (`On`, `Le`, `Am`, `Il`, `El`, `Em`, `Op`,
/// `Den`, `W dniu`, `At`, a date), so that the line above one is not
/// taken for its beginning.
fn is_attribution(lines: &[&str]) -> bool {
    static OPENER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(-{2,}\s*)?(on|le|am|il|el|em|op|den|w dniu|at|\d{1,4})\b")
            .expect("static regex")
    });
    let opens = lines
        .first()
        .is_some_and(|l| OPENER.is_match(&fold(l.trim())));
    let mut joined = String::new();
    for (k, l) in lines.iter().take(ATTRIBUTION_SPAN).enumerate() {
        if k > 0 && !opens {
            return false;
        }
        let l = fold(l.trim());
        if l.is_empty() || l.starts_with('>') {
            return false;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(&l);
        if joined.chars().count() > MAX_ATTRIBUTION_CHARS {
            return false;
        }
        let framed = joined.trim_matches(|c: char| c == '-' || c.is_whitespace());
        let ends = framed.ends_with(':') || (joined.starts_with("--") && joined.ends_with("--"));
        if !ends {
            continue;
        }
        if ATTRIBUTION_VERB.is_match(framed)
            || (framed.contains('@') && framed.chars().any(|c| c.is_ascii_digit()))
        {
            return true;
        }
    }
    false
}

/// A line as compared with the approval request: `>` prefixes gone,
/// folded, single spaces.
fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_start_matches(|c: char| c == '>' || c == '|' || c.is_whitespace());
        for word in fold(line).split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// Whether the lines from the first of `lines` are the approval request
/// `sent` (normalised), quoted: a run of at least [`QUOTE_PROBE_CHARS`]
/// characters found in it, however the client wrapped or prefixed them.
/// A field line written at the margin is the staff member's own, even if
/// the request offered it ready to copy.
fn quotes_sent(lines: &[&str], sent: &str) -> bool {
    let Some(first) = lines.first() else {
        return false;
    };
    let first_norm = normalised(first);
    if first_norm.chars().count() < 4 || (!first.starts_with('>') && field_line(first).is_some()) {
        return false;
    }
    let mut probe = String::new();
    for line in lines.iter().take(12) {
        let line = normalised(line);
        if line.is_empty() {
            continue;
        }
        if !probe.is_empty() {
            probe.push(' ');
        }
        probe.push_str(&line);
        if probe.chars().count() >= QUOTE_PROBE_CHARS {
            break;
        }
    }
    probe.chars().count() >= QUOTE_PROBE_CHARS && sent.contains(&probe)
}

/// A signature line: the sender's display name, or its first word, alone,
/// or a short line naming the sender's last name (`M. Dupont`).
fn is_signer(line: &str, name: &str) -> bool {
    /// Words in a line that signs: initials, titles, the name.
    const MAX_SIGNING_WORDS: usize = 4;
    let line = fold(line.trim());
    let line = trim_name(&line);
    let words: Vec<&str> = line
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let last = name
        .split(|c: char| !c.is_alphanumeric())
        .rfind(|w| !w.is_empty())
        .filter(|w| w.chars().count() >= 3 && *w != name);
    !line.is_empty()
        && (line == name
            || (line.chars().count() >= 3
                && !line.contains(' ')
                && name.split_whitespace().next() == Some(line))
            || (words.len() <= MAX_SIGNING_WORDS && last.is_some_and(|last| words.contains(&last))))
}

fn trim_name(s: &str) -> &str {
    s.trim_matches(|c: char| !c.is_alphanumeric())
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
