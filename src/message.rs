//! From raw e-mail bytes to a `Submission`: who sent it, what it answers,
//! whether it deserves an answer at all (RFC 3834), and every attached file.
//!
//! Pure code over bytes: no I/O, no clock. The walk descends into nested
//! multiparts and forwarded `message/rfc822` parts, because applicants forward
//! forms as often as they attach them, and it judges a file by its bytes
//! rather than its declared type (PDFs arrive as `application/octet-stream`,
//! inline in Apple Mail, or under a Word file's name).

mod base64;
pub mod tnef;
pub mod uuencode;

use std::borrow::Cow;

use mailparse::{body::Body, DispositionType, MailHeaderMap, ParsedMail};
use sha2::{Digest, Sha256};

use crate::address::{mailbox_key, Address};

/// Characters of a file name decoded (it is cut to 120 for display).
const MAX_DECODED_NAME: usize = 1024;
/// Forwarded messages inside forwarded messages stop being followed here.
const MAX_DEPTH: usize = 8;
/// More files than this in one e-mail is not a submission anyone made by hand.
pub const MAX_ATTACHMENTS: usize = 20;

/// One file found in an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Decoded file name (RFC 2231 / RFC 2047), cleaned for display; never
    /// empty (`piece-jointe-N` when the sender gave none).
    pub filename: String,
    /// The declared type, lower-cased (`application/pdf`…), for logs only.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// A PDF is recognised by its `%PDF-` signature near the start, as PDF
    /// readers do, whatever the declared type.
    pub fn is_pdf(&self) -> bool {
        let head = &self.bytes[..self.bytes.len().min(1024)];
        head.windows(5).any(|w| w == b"%PDF-")
    }
}

/// Why a message gets no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// `Auto-Submitted` other than `no`, or a vacation responder's marks.
    AutoReply,
    /// A delivery status notification or a message from the mailer daemon.
    Bounce,
    /// List or bulk mail (`List-*`, `Precedence: bulk|junk|list`).
    List,
    /// One of guichet's own messages come back.
    Own,
    /// Files from a sender whose address cannot be read (a broken `From:`):
    /// no one to answer, so an operator's, set aside in quarantine.
    UnreadableSender,
}

impl Silence {
    pub fn as_str(self) -> &'static str {
        match self {
            Silence::AutoReply => "auto-reply",
            Silence::Bounce => "bounce",
            Silence::List => "list",
            Silence::Own => "own",
            Silence::UnreadableSender => "unreadable-sender",
        }
    }
}

/// An e-mail as the desk understands it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// `<id@host>` as given, or a stable id made from the content when absent.
    pub message_id: String,
    /// The sender's address (lower-cased), where the answer goes.
    pub from: String,
    pub subject: String,
    /// Message-IDs this message answers (`In-Reply-To` then `References`).
    pub answers: Vec<String>,
    /// Every recipient address seen (To, Cc, Delivered-To, X-Original-To).
    pub recipients: Vec<String>,
    /// Seconds since the epoch from the `Date:` header, when it parses.
    pub date: Option<i64>,
    pub silence: Option<Silence>,
    pub attachments: Vec<Attachment>,
    /// SHA-256 of the Message-ID and the body (everything after the header
    /// block), so that a re-delivery with extra trace headers is recognised.
    pub fingerprint: String,
}

/// What cannot be parsed as an e-mail at all.
#[derive(Debug, thiserror::Error)]
#[error("not an e-mail message: {0}")]
pub struct ParseError(String);

/// Reads one message. `own_address` is the desk's intake address: mail from
/// it, or carrying guichet's own marks, is never treated as intake.
pub fn parse(raw: &[u8], own_address: &str) -> Result<Submission, ParseError> {
    parse_defused(raw, &defused(raw), own_address)
}

/// [`parse`] for a caller that needs the defused bytes too (to route the
/// message): `safe` is `defused(raw)`, made once for both.
pub fn parse_defused(raw: &[u8], safe: &[u8], own_address: &str) -> Result<Submission, ParseError> {
    let mail = mailparse::parse_mail(safe).map_err(|e| ParseError(e.to_string()))?;
    let headers = &mail.headers;
    // The fingerprint is of the bytes as sent.
    let body = body_after_headers(raw);

    let from = first_address(headers.get_first_header("From"))
        .or_else(|| first_address(headers.get_first_header("Sender")))
        .unwrap_or_default();
    let stated_id = headers
        .get_first_value("Message-ID")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 998);
    let mut hasher = Sha256::new();
    hasher.update(stated_id.as_deref().unwrap_or("").as_bytes());
    hasher.update([0]);
    hasher.update(body);
    let fingerprint = hex::encode(hasher.finalize());
    let message_id =
        stated_id.unwrap_or_else(|| format!("<{}@no-message-id.invalid>", &fingerprint[..32]));

    let mut answers = Vec::new();
    for name in ["In-Reply-To", "References"] {
        // Message-IDs are ASCII: read from the raw value, nothing decoded.
        for header in headers.get_all_headers(name) {
            let value = String::from_utf8_lossy(header.get_value_raw());
            for id in message_ids(&value) {
                if !answers.contains(&id) {
                    answers.push(id);
                }
            }
        }
    }
    let mut recipients = Vec::new();
    for name in ["To", "Cc", "Delivered-To", "X-Original-To"] {
        for header in headers.get_all_headers(name) {
            for address in addresses(header) {
                if !recipients.contains(&address) {
                    recipients.push(address);
                }
            }
        }
    }

    let mut attachments = Vec::new();
    collect_attachments(&mail, 0, &mut attachments);
    attachments.truncate(MAX_ATTACHMENTS);

    Ok(Submission {
        silence: silence(
            &mail,
            &from,
            &message_id,
            own_address,
            !attachments.is_empty(),
        ),
        message_id,
        subject: clean_line(&headers.get_first_value("Subject").unwrap_or_default()),
        answers,
        recipients,
        date: headers
            .get_first_value("Date")
            .and_then(|d| mailparse::dateparse(&d).ok()),
        from,
        attachments,
        fingerprint,
    })
}

/// Work of mailparse's encoded-word scan on one line above which the line
/// is defused: about (`=?` and `?=` on the line) × (its length). A real
/// header line of encoded words stays far below; 1.2 MB of `a =?` is ten
/// thousand times above.
const MAX_WORD_SCAN: usize = 1 << 24;

/// The message as given to mailparse. mailparse 0.16 decodes RFC 2047
/// words with a scan that is quadratic in the length of a line (for each
/// `=?` it looks for the end and checks the character before by counting
/// from the line's start), so a megabyte of `a =?` in a `Subject:` takes
/// minutes. A line where that work would pass [`MAX_WORD_SCAN`] has its
/// `=?` turned into `= ` (shown as typed, never decoded); every other line
/// is left alone, and a message without such a line is not copied.
/// Linear in the size of the message.
pub fn defused(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut start = 0;
    for line in raw.split_inclusive(|&c| c == b'\n') {
        let marks = line.windows(2).filter(|w| w == b"=?" || w == b"?=").count();
        if marks.saturating_mul(line.len()) > MAX_WORD_SCAN {
            let copy = out.get_or_insert_with(|| raw[..start].to_vec());
            let mut previous = 0u8;
            for &c in line {
                copy.push(if previous == b'=' && c == b'?' {
                    b' '
                } else {
                    c
                });
                previous = c;
            }
        } else if let Some(copy) = out.as_mut() {
            copy.extend_from_slice(line);
        }
        start += line.len();
    }
    match out {
        Some(copy) => Cow::Owned(copy),
        None => Cow::Borrowed(raw),
    }
}

/// The bytes after the first empty line: the part of a message that
/// transport does not change.
fn body_after_headers(raw: &[u8]) -> &[u8] {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(raw.len()),
    };
    &raw[start..]
}

/// RFC 3834 and common practice: who must never be answered.
fn silence(
    mail: &ParsedMail,
    from: &str,
    message_id: &str,
    own: &str,
    has_files: bool,
) -> Option<Silence> {
    let h = &mail.headers;
    let value = |name: &str| {
        h.get_first_value(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };

    let own = own.to_ascii_lowercase();
    let own_domain = Address::parse(&own).map_or(String::new(), |a| a.domain().to_string());
    let from_own = from == own || mailbox_key(from) == mailbox_key(&own);
    let guichet_id = message_id
        .to_ascii_lowercase()
        .contains(&format!(".guichet@{own_domain}>"));
    if from_own || guichet_id || h.get_first_header("X-Guichet-Kind").is_some() {
        return Some(Silence::Own);
    }

    let return_path = value("Return-Path").unwrap_or_default();
    let local = from.split('@').next().unwrap_or("");
    let report = mail.ctype.mimetype.eq_ignore_ascii_case("multipart/report")
        || mail.subparts.iter().any(|p| {
            p.ctype
                .mimetype
                .eq_ignore_ascii_case("message/delivery-status")
        });
    // No readable sender, yet files and no mark of a report: not a bounce.
    if from.is_empty() && has_files && return_path != "<>" && !report {
        return Some(Silence::UnreadableSender);
    }
    if from.is_empty()
        || return_path == "<>"
        || local.eq_ignore_ascii_case("mailer-daemon")
        || local.eq_ignore_ascii_case("postmaster")
        || report
    {
        return Some(Silence::Bounce);
    }

    if let Some(auto) = value("Auto-Submitted") {
        let keyword = auto.split(';').next().unwrap_or("").trim();
        if keyword != "no" {
            return Some(Silence::AutoReply);
        }
    }
    if h.get_first_header("X-Autoreply").is_some() || h.get_first_header("X-Autorespond").is_some()
    {
        return Some(Silence::AutoReply);
    }

    if matches!(
        value("Precedence").as_deref(),
        Some("bulk" | "junk" | "list")
    ) || h
        .iter()
        .any(|hd| hd.get_key_ref().to_ascii_lowercase().starts_with("list-"))
    {
        return Some(Silence::List);
    }
    None
}

/// Walks the MIME tree depth-first, in order, collecting files.
fn collect_attachments(part: &ParsedMail, depth: usize, out: &mut Vec<Attachment>) {
    if depth > MAX_DEPTH || out.len() >= MAX_ATTACHMENTS {
        return;
    }
    let mimetype = part.ctype.mimetype.to_ascii_lowercase();
    if mimetype.starts_with("multipart/") {
        for sub in &part.subparts {
            collect_attachments(sub, depth + 1, out);
        }
        return;
    }
    if mimetype == "message/rfc822" {
        if let Ok(inner_raw) = part.get_body_raw() {
            if let Ok(inner) = mailparse::parse_mail(&defused(&inner_raw)) {
                collect_attachments(&inner, depth + 1, out);
            }
        }
        return;
    }
    let disposition = part.get_content_disposition();
    let name = disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))
        .map(|n| decode_words(n));
    let is_body_text = matches!(mimetype.as_str(), "text/plain" | "text/html")
        && name.is_none()
        && disposition.disposition != DispositionType::Attachment;
    if is_body_text && mimetype == "text/plain" {
        uuencoded_files(&body_bytes(part), out);
    }
    let is_signature = matches!(
        mimetype.as_str(),
        "application/pgp-signature"
            | "application/pkcs7-signature"
            | "application/x-pkcs7-signature"
    );
    if is_body_text || is_signature || mimetype == "message/delivery-status" {
        return;
    }
    let bytes = body_bytes(part);
    if bytes.is_empty() && name.is_none() {
        return;
    }
    if mimetype == "application/ms-tnef" || tnef::is_tnef(&bytes) {
        let inside = tnef::files(&bytes);
        if !inside.is_empty() {
            for file in inside {
                push_file(out, Some(file.name), "application/ms-tnef", file.bytes);
            }
            return;
        }
    }
    push_file(out, name, &mimetype, bytes);
}

/// Adds one file, named as given (cleaned) or `piece-jointe-N`.
fn push_file(out: &mut Vec<Attachment>, name: Option<String>, content_type: &str, bytes: Vec<u8>) {
    if out.len() >= MAX_ATTACHMENTS {
        return;
    }
    let filename = name
        .map(|n| clean_filename(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("piece-jointe-{}", out.len() + 1));
    out.push(Attachment {
        filename,
        content_type: content_type.to_string(),
        bytes,
    });
}

/// Files uuencoded into a text body become attachments like any other.
fn uuencoded_files(text: &[u8], out: &mut Vec<Attachment>) {
    if !text.windows(6).any(|w| w == b"begin ") {
        return;
    }
    for file in uuencode::files(text) {
        push_file(out, Some(file.name), "text/x-uuencode", file.bytes);
    }
}

/// A part's content, its transfer encoding undone as mail clients undo it:
/// base64 leniently (stray characters, missing padding), quoted-printable
/// robustly. Nothing vanishes: what cannot be decoded is kept as it came,
/// and the reader then finds it unreadable.
fn body_bytes(part: &ParsedMail) -> Vec<u8> {
    match part.get_body_encoded() {
        Body::Base64(body) => base64::decode_lenient(body.get_raw()),
        Body::QuotedPrintable(body) => body
            .get_decoded()
            .unwrap_or_else(|_| body.get_raw().to_vec()),
        Body::SevenBit(body) | Body::EightBit(body) => body.get_raw().to_vec(),
        Body::Binary(body) => body.get_raw().to_vec(),
    }
}

/// Decodes RFC 2047 encoded words that some mailers put in `name=`.
fn decode_words(value: &str) -> String {
    // A name pieced together from many RFC 2231 sections can be long: only
    // what is shown is decoded (see `defused`).
    let value = match value.char_indices().nth(MAX_DECODED_NAME) {
        Some((cut, _)) => &value[..cut],
        None => value,
    };
    if !value.contains("=?") {
        return value.to_string();
    }
    let line = format!("X: {value}");
    match mailparse::parse_header(line.as_bytes()) {
        Ok((header, _)) => header.get_value(),
        Err(_) => value.to_string(),
    }
}

/// Keeps the last path component, drops control characters, bounds length:
/// file names are shown to people and written into replies.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    cleaned.chars().take(120).collect()
}

/// A header value made safe for display on one line.
fn clean_line(value: &str) -> String {
    let s: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

fn addresses(header: &mailparse::MailHeader) -> Vec<String> {
    let Ok(list) = mailparse::addrparse_header(header) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for addr in list.iter() {
        match addr {
            mailparse::MailAddr::Single(s) => out.push(s.addr.trim().to_ascii_lowercase()),
            mailparse::MailAddr::Group(g) => {
                out.extend(g.addrs.iter().map(|s| s.addr.trim().to_ascii_lowercase()))
            }
        }
    }
    out.retain(|a| a.contains('@'));
    out
}

fn first_address(header: Option<&mailparse::MailHeader>) -> Option<String> {
    header.and_then(|h| addresses(h).into_iter().next())
}

/// The `<...>` ids in an `In-Reply-To` or `References` value.
fn message_ids(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('>')
                .map(|(id, _)| format!("<{}>", id.trim()))
        })
        .filter(|id| id.len() > 2 && id.len() < 998)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "acces@organisme.example";

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn finds_pdfs_in_nested_and_forwarded_parts_by_their_bytes() {
        let raw = mail(
            "From: A <a@clinique.example>\r\nTo: acces@organisme.example\r\nMessage-ID: <1@c>\r\nContent-Type: multipart/mixed; boundary=outer",
            "--outer\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n\
             --outer\r\nContent-Type: application/octet-stream; name=\"scan.pdf\"\r\n\r\n%PDF-1.4 x\r\n\
             --outer\r\nContent-Type: message/rfc822\r\n\r\n\
             From: b@c.example\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n\
             --inner\r\nContent-Type: application/pdf\r\nContent-Disposition: inline;\r\n filename*=utf-8''Mandat%20%E2%80%93%20acc%C3%A8s.pdf\r\n\r\n%PDF-1.7 y\r\n--inner--\r\n\
             --outer\r\nContent-Type: image/jpeg; name=\"=?utf-8?q?photo_=C3=A9t=C3=A9.jpg?=\"\r\n\r\nJFIF\r\n--outer--\r\n",
        );
        let s = parse(&raw, OWN).unwrap();
        let names: Vec<_> = s.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["scan.pdf", "Mandat – accès.pdf", "photo été.jpg"]);
        assert!(s.attachments[0].is_pdf() && s.attachments[1].is_pdf());
        assert!(!s.attachments[2].is_pdf());
        assert_eq!(s.from, "a@clinique.example");
        assert!(s.silence.is_none());
    }

    #[test]
    fn recognises_who_must_not_be_answered() {
        let cases = [
            (
                "From: a@b.example\r\nAuto-Submitted: auto-replied",
                Some(Silence::AutoReply),
            ),
            ("From: a@b.example\r\nAuto-Submitted: no", None),
            ("From: a@b.example\r\nPrecedence: bulk", Some(Silence::List)),
            ("From: a@b.example\r\nList-Id: <x.y>", Some(Silence::List)),
            ("From: MAILER-DAEMON@mx.example", Some(Silence::Bounce)),
            (
                "From: a@b.example\r\nReturn-Path: <>",
                Some(Silence::Bounce),
            ),
            ("To: acces@organisme.example", Some(Silence::Bounce)),
            ("From: acces@organisme.example", Some(Silence::Own)),
            (
                "From: a@b.example\r\nX-Guichet-Kind: ack",
                Some(Silence::Own),
            ),
            ("From: Someone <a@b.example>", None),
        ];
        for (headers, expected) in cases {
            let s = parse(&mail(headers, "hello"), OWN).unwrap();
            assert_eq!(s.silence, expected, "{headers}");
        }
    }

    #[test]
    fn a_redelivery_with_trace_headers_has_the_same_fingerprint() {
        let first = mail("From: a@b.example\r\nMessage-ID: <x@b>", "body");
        let again = [b"Received: from mx by mx2\r\n".as_slice(), &first].concat();
        let other = mail("From: a@b.example\r\nMessage-ID: <x@b>", "other body");
        let fp = |raw: &[u8]| parse(raw, OWN).unwrap().fingerprint;
        assert_eq!(fp(&first), fp(&again));
        assert_ne!(fp(&first), fp(&other));
    }

    #[test]
    fn collects_what_the_message_answers_and_where_it_went() {
        let raw = mail(
            "From: a@b.example\r\nTo: Desk <acces+abc@organisme.example>, x@y.example\r\nIn-Reply-To: <r1@g>\r\nReferences: <r0@g> <r1@g>",
            "APPROUVER",
        );
        let s = parse(&raw, OWN).unwrap();
        assert_eq!(s.answers, ["<r1@g>", "<r0@g>"]);
        assert_eq!(s.recipients, ["acces+abc@organisme.example", "x@y.example"]);
    }

    #[test]
    fn file_names_are_cleaned_for_display() {
        assert_eq!(clean_filename("C:\\Users\\x\\form.pdf"), "form.pdf");
        assert_eq!(clean_filename("a\r\nBcc: x.pdf"), "aBcc: x.pdf");
    }

    /// A broken `From:` on a message with files: set aside for an
    /// operator, never taken for a bounce; without files it stays silence.
    #[test]
    fn files_from_an_unreadable_sender_are_not_a_bounce() {
        let parts =
            "--b\r\nContent-Type: application/pdf; name=\"f.pdf\"\r\n\r\n%PDF-1.4 x\r\n--b--\r\n";
        for from in [
            "From: \"Dupont, Jean\" <jean.dupont(at)clinique.example>",
            "From: Jean Dupont\r\n <jean.dupont@",
        ] {
            let raw = mail(
                &format!("{from}\r\nTo: {OWN}\r\nMessage-ID: <u@c>\r\nContent-Type: multipart/mixed; boundary=b"),
                parts,
            );
            let s = parse(&raw, OWN).unwrap();
            assert_eq!(s.from, "", "{from}");
            assert_eq!(s.silence, Some(Silence::UnreadableSender), "{from}");
        }
        let bounce = mail(
            "From: Jean Dupont\r\nReturn-Path: <>\r\nContent-Type: multipart/mixed; boundary=b",
            parts,
        );
        assert_eq!(parse(&bounce, OWN).unwrap().silence, Some(Silence::Bounce));
        let no_files = mail("From: Jean Dupont", "texte");
        assert_eq!(
            parse(&no_files, OWN).unwrap().silence,
            Some(Silence::Bounce)
        );
    }

    #[test]
    fn only_a_line_whose_word_scan_would_be_quadratic_is_defused() {
        let fine = mail(
            "Subject: =?utf-8?q?caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?=",
            "a =? b",
        );
        assert!(matches!(defused(&fine), Cow::Borrowed(_)));
        let bomb = format!(
            "Subject: {}\r\nTo: x@y.example\r\n\r\n=?ok",
            "a =?".repeat(5000)
        );
        let safe = defused(bomb.as_bytes());
        assert_eq!(safe.len(), bomb.len());
        let text = String::from_utf8(safe.into_owned()).unwrap();
        assert!(text.starts_with("Subject: a = a = "));
        assert!(text.ends_with("To: x@y.example\r\n\r\n=?ok"));
    }
}
