//! A [`Reply`] as RFC 5322 bytes, built with lettre's message builder:
//! `multipart/alternative` (text, HTML), the HTML in `multipart/related`
//! with its inline images, all in `multipart/mixed` with the attachments.

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use super::{clean, Reply};
use crate::domain::Outgoing;

/// Why a reply could not be rendered; the reply is then not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("not a usable address: {0:?}")]
    Address(String),
    #[error("not a usable Message-ID: {0:?}")]
    MessageId(String),
    #[error("not a usable content type: {0:?}")]
    ContentType(String),
    #[error("cannot build the message: {0}")]
    Build(String),
}

const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");
const AUTO_RESPONSE_SUPPRESS: HeaderName =
    HeaderName::new_from_ascii_str("X-Auto-Response-Suppress");
const GUICHET_KIND: HeaderName = HeaderName::new_from_ascii_str("X-Guichet-Kind");

/// Longest subject written, in characters.
const MAX_SUBJECT_CHARS: usize = 200;

/// Renders a reply sent from `from` (the intake address) under `message_id`
/// (`<…@…>`) at `date`. Every header value is checked or cleaned here, the
/// last gate before the wire, whatever the composer did.
pub fn render(
    reply: &Reply,
    from: &str,
    message_id: &str,
    date: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    let mut builder = Message::builder()
        .from(mailbox(from)?)
        .to(mailbox(&reply.to)?)
        .subject(clean::line(&reply.subject, MAX_SUBJECT_CHARS))
        .date(date.into())
        .message_id(Some(
            clean::msg_id(message_id).ok_or_else(|| RenderError::MessageId(message_id.into()))?,
        ))
        .raw_header(HeaderValue::new(
            AUTO_SUBMITTED,
            reply.auto_submitted.as_str().into(),
        ))
        .raw_header(HeaderValue::new(AUTO_RESPONSE_SUPPRESS, "All".into()))
        .raw_header(HeaderValue::new(GUICHET_KIND, reply.kind.as_str().into()));
    if let Some(reply_to) = &reply.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    if let Some(id) = reply.in_reply_to.as_deref().and_then(clean::msg_id) {
        builder = builder.in_reply_to(id);
    }
    let references: Vec<String> = reply
        .references
        .iter()
        .filter_map(|r| clean::msg_id(r))
        .collect();
    if !references.is_empty() {
        builder = builder.references(references.join(" "));
    }

    let plain = SinglePart::plain(reply.text.clone());
    let html = SinglePart::html(reply.html.clone());
    let html_part = if reply.inline_images.is_empty() {
        MultiPart::alternative().singlepart(plain).singlepart(html)
    } else {
        let mut related = MultiPart::related().singlepart(html);
        for image in &reply.inline_images {
            let cid = clean::line(&image.cid, 100).replace(['<', '>', ' '], "");
            related = related.singlepart(
                Attachment::new_inline(cid).body(
                    image.png.clone(),
                    ContentType::parse("image/png")
                        .map_err(|e| RenderError::ContentType(e.to_string()))?,
                ),
            );
        }
        MultiPart::alternative()
            .singlepart(plain)
            .multipart(related)
    };
    let body = if reply.attachments.is_empty() {
        html_part
    } else {
        let mut mixed = MultiPart::mixed().multipart(html_part);
        for file in &reply.attachments {
            let content_type = ContentType::parse(&file.content_type)
                .map_err(|_| RenderError::ContentType(file.content_type.clone()))?;
            let name = clean::line(&file.filename, 100);
            mixed = mixed.singlepart(Attachment::new(name).body(file.bytes.clone(), content_type));
        }
        mixed
    };
    let message = builder
        .multipart(body)
        .map_err(|e| RenderError::Build(e.to_string()))?;
    Ok(message.formatted())
}

fn mailbox(address: &str) -> Result<Mailbox, RenderError> {
    let address: Address = address
        .trim()
        .parse()
        .map_err(|_| RenderError::Address(address.into()))?;
    Ok(Mailbox::new(None, address))
}
/// Renders a reply sent from `from` (the intake address) into an outgoing
/// message with a fresh Message-ID; returns it with that Message-ID.
pub fn outgoing(
    reply: &Reply,
    from: &str,
    now: DateTime<Utc>,
) -> Result<(Outgoing, String), RenderError> {
    let sender = crate::address::Address::parse(from);
    let domain = sender.as_ref().map_or("localhost", |a| a.domain());
    let token: u64 = rand::Rng::random(&mut rand::rng());
    let message_id = format!(
        "<{}.{token:016x}.guichet@{domain}>",
        now.format("%Y%m%d%H%M%S")
    );
    let raw = render(reply, from, &message_id, now)?;
    let id = format!(
        "{}-{token:016x}-{}",
        now.format("%Y%m%dT%H%M%S%3f"),
        reply.kind.as_str()
    );
    Ok((
        Outgoing {
            id,
            envelope_from: from.to_string(),
            to: vec![reply.to.clone()],
            raw,
        },
        message_id,
    ))
}
