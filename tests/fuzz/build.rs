//! Generators of hostile and sloppy inputs, made in memory (nothing huge is
//! ever committed): PDFs built with lopdf, e-mails, Outlook's winmail.dat,
//! uuencoded bodies. `write_hostile_inputs` writes the worst of each kind
//! to a folder, for measuring `guichet check` with `/usr/bin/time -v`.

use std::path::Path;

use guichet::message::uuencode;
use lopdf::{dictionary, Document, Object, Stream};

/// The blank DA-100 shipped with the project: a real PDF to hide in mail.
pub fn blank_form() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/da-100/blank.pdf");
    std::fs::read(&path).expect("data/da-100/blank.pdf is part of the project")
}

/// A one-page Letter PDF painting `content`, with `image` as `/Im0`.
pub fn pdf(content: Vec<u8>, compress: bool, image: Option<Stream>) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut contents = Stream::new(dictionary! {}, content);
    if compress {
        contents.compress().expect("zlib");
    }
    let content_id = doc.add_object(contents);
    let mut resources = dictionary! {};
    if let Some(image) = image {
        let image_id = doc.add_object(image);
        resources.set("XObject", dictionary! { "Im0" => image_id });
    }
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Resources" => resources,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("lopdf writes");
    out
}

/// A scanned page: one grey image covering the page, declared
/// `width`×`height` whatever its samples.
pub fn scan(width: i64, height: i64, samples: Vec<u8>) -> Vec<u8> {
    let image = Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => width,
            "Height" => height,
            "ColorSpace" => "DeviceGray",
            "BitsPerComponent" => 8,
        },
        samples,
    );
    pdf(
        b"q 612 0 0 792 0 0 cm /Im0 Do Q".to_vec(),
        false,
        Some(image),
    )
}

/// The image that panicked: declared 2^32 × 2^32 pixels.
pub fn panic_image() -> Vec<u8> {
    scan(1 << 32, 1 << 32, vec![0; 64])
}

/// `bytes` of `q ` operators, compressed (the "q bomb": 60 MB in ~60 KB)
/// or not.
pub fn q_bomb(bytes: usize, compress: bool) -> Vec<u8> {
    pdf(b"q ".repeat(bytes / 2), compress, None)
}

/// A page whose render takes far longer than its watchdog: many fills of
/// the whole page (cheap to parse, each a full pass over the pixels).
pub fn slow_pdf() -> Vec<u8> {
    let fill = b"0 0 m 612 0 l 612 792 l 0 792 l h f\n";
    pdf(fill.repeat(40_000), true, None)
}

/// A plain e-mail from an applicant: `headers` then `body` (CRLF).
pub fn mail(extra_headers: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Lea Fortin <lea.fortin@dentaire.example>\r\nTo: acces@organisme.example\r\n\
         Message-ID: <{}@dentaire.example>\r\nDate: Mon, 18 Nov 2024 09:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n{extra_headers}Content-Type: {content_type}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Base64 in 76-character lines.
pub fn base64_lines(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let mut t = [0u8; 3];
        t[..chunk.len()].copy_from_slice(chunk);
        let n = (u32::from(t[0]) << 16) | (u32::from(t[1]) << 8) | u32::from(t[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).expect("ASCII"))
        .collect();
    lines.join("\r\n")
}

/// A message with one attached file, base64-encoded as given in `encoded`.
pub fn with_attachment(name: &str, content_type: &str, encoded: &str) -> Vec<u8> {
    let body = format!(
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, voici le formulaire.\r\n\
         --b\r\nContent-Type: {content_type}; name=\"{name}\"\r\nContent-Disposition: attachment; \
         filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    );
    mail("", "multipart/mixed; boundary=\"b\"", &body)
}

/// The PDF's base64 with one stray character in the middle, as a broken
/// gateway leaves it.
pub fn stray_char_base64(pdf: &[u8]) -> Vec<u8> {
    let mut encoded = base64_lines(pdf);
    let middle = encoded.len() / 2;
    let at = (middle..encoded.len())
        .find(|&i| encoded.is_char_boundary(i) && encoded.as_bytes()[i] != b'\r')
        .expect("a place");
    encoded.insert(at, '!');
    with_attachment("DA-100.pdf", "application/pdf", &encoded)
}

/// A TNEF attribute: level, id (with its type), length, data, checksum.
fn tnef_attribute(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
    out.push(level);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
    out.extend_from_slice(&sum.to_le_bytes());
}

/// A MAPI property of a variable type: type, id, one value, padded.
fn mapi_value(out: &mut Vec<u8>, kind: u16, id: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (4 - value.len() % 4) % 4, 0);
}

/// How Outlook carries a file in winmail.dat.
#[derive(Clone, Copy)]
pub enum Tnef {
    /// `attAttachTitle` and `attAttachData` (older Outlook).
    Legacy,
    /// Only `attAttachment` MAPI properties: a long Unicode name and
    /// `PR_ATTACH_DATA_BIN`, after a fixed-size property to skip.
    Mapi,
}

/// A winmail.dat holding `files` (name, bytes), the way `how` says.
pub fn winmail_dat(files: &[(&str, &[u8])], how: Tnef) -> Vec<u8> {
    let mut out = vec![0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00];
    // attTnefVersion and a message class, at message level.
    tnef_attribute(&mut out, 1, 0x0008_9006, &0x0001_0000u32.to_le_bytes());
    tnef_attribute(&mut out, 1, 0x0007_8008, b"IPM.Microsoft Mail.Note\0");
    // The message's own text comes first, as Outlook writes it: the PDF's
    // signature is then far from the start of winmail.dat.
    let body = "Bonjour, veuillez trouver ci-joint le formulaire sign\u{e9}. ".repeat(80);
    tnef_attribute(&mut out, 1, 0x0002_800c, body.as_bytes());
    for (name, bytes) in files {
        tnef_attribute(
            &mut out,
            2,
            0x0006_9002,
            &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        );
        match how {
            Tnef::Legacy => {
                let title = [name.as_bytes(), b"\0"].concat();
                tnef_attribute(&mut out, 2, 0x0001_8010, &title);
                tnef_attribute(&mut out, 2, 0x0006_800f, bytes);
            }
            Tnef::Mapi => {
                let mut props = 3u32.to_le_bytes().to_vec();
                // PR_ATTACH_METHOD (long) = 1.
                props.extend_from_slice(&[0x03, 0x00, 0x05, 0x37, 1, 0, 0, 0]);
                let unicode: Vec<u8> = name
                    .encode_utf16()
                    .chain([0])
                    .flat_map(u16::to_le_bytes)
                    .collect();
                mapi_value(&mut props, 0x001f, 0x3707, &unicode);
                mapi_value(&mut props, 0x0102, 0x3701, bytes);
                tnef_attribute(&mut out, 2, 0x0006_9005, &props);
            }
        }
    }
    out
}

/// An Outlook message: text, then winmail.dat.
pub fn outlook_mail(tnef: &[u8]) -> Vec<u8> {
    let body = format!(
        "--b\r\nContent-Type: text/plain\r\n\r\nVoici le formulaire.\r\n--b\r\n\
         Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Disposition: \
         attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64_lines(tnef)
    );
    mail("", "multipart/mixed; boundary=\"b\"", &body)
}

/// A text message with the PDF uuencoded in its body.
pub fn uuencoded_mail(name: &str, pdf: &[u8]) -> Vec<u8> {
    let encoded = String::from_utf8(uuencode::encode(name, pdf)).expect("ASCII");
    let body = format!("Bonjour,\r\n\r\nle formulaire :\r\n\r\n{encoded}\r\nMerci\r\n");
    mail("", "text/plain; charset=us-ascii", &body)
}

/// A header of `a =?` repeated to `bytes`, on one line.
pub fn encoded_word_bomb(header: &str, bytes: usize) -> Vec<u8> {
    let value = "a =?".repeat(bytes / 4);
    mail(
        &format!("{header}: {value}\r\n"),
        "text/plain",
        "Bonjour\r\n",
    )
}

/// The worst input of each kind, by file name.
pub fn hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let form = blank_form();
    let slow = slow_pdf();
    let slow_files: Vec<(String, Vec<u8>)> = (1..=20)
        .map(|i| (format!("lent-{i}.pdf"), slow.clone()))
        .collect();
    let mut parts = String::new();
    for (name, bytes) in &slow_files {
        parts.push_str(&format!(
            "--b\r\nContent-Type: application/pdf; name=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64_lines(bytes)
        ));
    }
    parts.push_str("--b--\r\n");
    vec![
        ("panic-image.pdf", panic_image()),
        ("q-bomb.pdf", q_bomb(60_000_000, true)),
        ("uncompressed-10mb.pdf", q_bomb(10_000_000, false)),
        ("subject-bomb.eml", encoded_word_bomb("Subject", 1_200_000)),
        (
            "references-bomb.eml",
            encoded_word_bomb("References", 1_200_000),
        ),
        (
            "twenty-slow-pdfs.eml",
            mail("", "multipart/mixed; boundary=\"b\"", &parts),
        ),
        ("stray-base64.eml", stray_char_base64(&form)),
        (
            "winmail.eml",
            outlook_mail(&winmail_dat(&[("DA-100.pdf", &form)], Tnef::Mapi)),
        ),
        ("uuencoded.eml", uuencoded_mail("DA-100.pdf", &form)),
    ]
}

/// Writes the hostile inputs to `$HOSTILE_DIR` (default
/// `target/hostile`): `cargo test --test fuzz -- --ignored write_hostile`.
#[test]
#[ignore = "writes files for measurement; run by hand"]
fn write_hostile_inputs() {
    let dir = std::env::var_os("HOSTILE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/hostile"));
    std::fs::create_dir_all(&dir).expect("output folder");
    for (name, bytes) in hostile_inputs() {
        std::fs::write(dir.join(name), &bytes).expect("write");
        assert!(dir.join(name).metadata().expect("written").len() > 0);
    }
}

/// Writes the PDF seeds of `tests/fuzz/corpus/pdf` (run once, committed):
/// `cargo test --test fuzz -- --ignored write_pdf_seeds`.
#[test]
#[ignore = "regenerates committed seed files; run by hand"]
fn write_pdf_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/pdf");
    std::fs::create_dir_all(&dir).expect("corpus folder");
    let grey: Vec<u8> = (0..64u32 * 80).map(|i| (i * 7 % 256) as u8).collect();
    let mut flate = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 64, "Height" => 80,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 4,
            "Decode" => vec![1.into(), 0.into(), 1.into(), 0.into(), 1.into(), 0.into()],
        },
        grey.repeat(2)[..64 * 80 * 3 / 2].to_vec(),
    );
    flate.compress().expect("zlib");
    let seeds = [
        ("scan-grey.pdf", scan(64, 80, grey.clone())),
        (
            "scan-rgb4-flate.pdf",
            pdf(
                b"q 0 612 -792 0 612 0 cm /Im0 Do Q".to_vec(),
                true,
                Some(flate),
            ),
        ),
        (
            "vector.pdf",
            pdf(
                b"BT /F1 12 Tf 72 720 Td (DA-100) Tj ET 0 0 m 100 100 l S".to_vec(),
                true,
                None,
            ),
        ),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), &bytes).expect("write");
    }
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/regressions/panic-image.pdf"),
        panic_image(),
    )
    .expect("write");
}
