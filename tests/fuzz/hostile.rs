//! One test per kind of input that once broke the desk (issue 15): each is
//! generated at full size, and must get its answer quickly, with no panic,
//! the file inside the envelope found.

use std::time::{Duration, Instant};

use guichet::domain::ReadError;
use guichet::message::{self, Attachment};
use guichet::reader;

use super::{build, OWN};

/// Runs `f`, failing if it takes longer than `limit`.
fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < limit, "{what} took {took:?}, over {limit:?}");
    out
}

fn only_file(raw: &[u8]) -> Attachment {
    let sub = within(Duration::from_secs(2), "parse", || message::parse(raw, OWN)).expect("parses");
    assert_eq!(
        sub.attachments.len(),
        1,
        "{:?}",
        sub.attachments
            .iter()
            .map(|a| &a.filename)
            .collect::<Vec<_>>()
    );
    sub.attachments.into_iter().next().expect("one file")
}

#[test]
fn an_image_of_two_to_the_32_squared_pixels_is_refused_not_a_panic() {
    match reader::inspect(&build::panic_image()) {
        Err(ReadError::Unreadable(why)) => assert!(why.contains("pixels"), "{why}"),
        other => panic!("expected an unreadable file, got {other:?}"),
    }
    // Sides that each fit but multiply past the limit, and a zero side.
    for (w, h) in [(1 << 31, 1 << 31), (100_000, 100_000), (0, 10), (-5, 10)] {
        assert!(
            reader::inspect(&build::scan(w, h, vec![0; 64])).is_err(),
            "{w}x{h}"
        );
    }
}

#[test]
fn a_content_stream_bomb_is_neither_parsed_whole_nor_held() {
    // 60 MB of `q ` in about 60 KB, and 10 MB uncompressed: such pages are
    // no bare scans, and go to the renderer without being replayed here.
    for (size, compress) in [(60_000_000, true), (10_000_000, false)] {
        let pdf = build::q_bomb(size, compress);
        let scans = within(Duration::from_secs(10), "q bomb", || reader::inspect(&pdf));
        assert_eq!(scans.expect("opens"), 0);
    }
}

#[test]
fn a_megabyte_of_encoded_word_starts_is_parsed_in_linear_time() {
    for header in ["Subject", "References", "From", "Content-Type"] {
        let raw = build::encoded_word_bomb(header, 1_200_000);
        let sub =
            within(Duration::from_secs(2), header, || message::parse(&raw, OWN)).expect("parses");
        if header == "Subject" {
            assert!(sub.subject.starts_with("a = a"), "{}", &sub.subject);
        }
    }
    // A header made of real encoded words is still decoded.
    let raw = build::mail(
        "Subject: =?utf-8?q?Formulaire_d=C3=A9l=C3=A9gation?=\r\n",
        "text/plain",
        "x",
    );
    assert_eq!(
        message::parse(&raw, OWN).unwrap().subject,
        "Formulaire délégation"
    );
}

#[test]
fn base64_with_a_stray_character_still_gives_the_pdf() {
    let form = build::blank_form();
    let file = only_file(&build::stray_char_base64(&form));
    assert_eq!(file.filename, "DA-100.pdf");
    assert!(file.bytes == form, "the form decodes whole");
}

#[test]
fn a_part_that_cannot_be_decoded_is_still_an_attachment() {
    let raw = build::with_attachment("DA-100.pdf", "application/pdf", "!!!! ****");
    let file = only_file(&raw);
    assert_eq!(file.filename, "DA-100.pdf");
    assert!(!file.is_pdf());
}

#[test]
fn the_pdf_in_outlooks_winmail_dat_is_found() {
    let form = build::blank_form();
    for how in [build::Tnef::Legacy, build::Tnef::Mapi] {
        let tnef = build::winmail_dat(&[("DA-100 signé.pdf", &form)], how);
        let file = only_file(&build::outlook_mail(&tnef));
        assert_eq!(
            file.filename,
            "DA-100 signé.pdf".replace(
                'é',
                match how {
                    // The legacy title is 8-bit: UTF-8 bytes read as Latin-1.
                    build::Tnef::Legacy => "Ã©",
                    build::Tnef::Mapi => "é",
                }
            )
        );
        assert!(file.bytes == form && file.is_pdf());
    }
    // Two files, and a winmail.dat cut short: what is whole is found.
    let two = build::winmail_dat(
        &[("a.pdf", &form), ("b.pdf", b"%PDF-1.4 b")],
        build::Tnef::Mapi,
    );
    assert_eq!(message::tnef::files(&two).len(), 2);
    let cut = &two[..two.len() - 20];
    assert_eq!(message::tnef::files(cut).len(), 1);
}

#[test]
fn a_uuencoded_pdf_in_the_body_is_found() {
    let form = build::blank_form();
    let file = only_file(&build::uuencoded_mail("DA-100.pdf", &form));
    assert_eq!(file.filename, "DA-100.pdf");
    assert!(file.bytes == form && file.is_pdf());
}
