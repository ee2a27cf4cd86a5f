//! The reader on files that are not readable forms: encrypted, truncated,
//! corrupt, another document; and on the blank form itself.

use crate::common::{generated_pdf, path, run, G4_SCAN, JPEG_SCAN};
use guichet::domain::ReadError;
use guichet::reader::{Da100Reader, FormReader};

fn blank_form() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/da-100/blank.pdf"
    ))
    .expect("blank.pdf")
}

/// Workers share one reader; each thread keeps its own OCR engines.
#[test]
fn the_reader_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Da100Reader>();
    let reader = std::sync::Arc::new(Da100Reader::new().unwrap());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let reader = reader.clone();
            std::thread::spawn(move || reader.read(&blank_form()).map(|r| r.forms))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Ok(1));
    }
}

#[test]
fn a_password_protected_pdf_is_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.pdf");
    let locked = dir.path().join("locked.pdf");
    std::fs::write(&plain, blank_form()).unwrap();
    run(
        "qpdf",
        &[
            "--encrypt",
            "secret",
            "owner",
            "256",
            "--",
            path(&plain),
            path(&locked),
        ],
    );
    let reader = Da100Reader::new().unwrap();
    assert_eq!(
        reader.read(&std::fs::read(&locked).unwrap()),
        Err(ReadError::Encrypted)
    );
    // Restrictions with an empty user password lock nothing out: it reads.
    let restricted = dir.path().join("restricted.pdf");
    run(
        "qpdf",
        &[
            "--encrypt",
            "",
            "owner",
            "256",
            "--",
            path(&plain),
            path(&restricted),
        ],
    );
    let report = reader.read(&std::fs::read(&restricted).unwrap()).unwrap();
    assert_eq!(report.forms, 1);
}

#[test]
fn a_truncated_or_corrupt_pdf_is_unreadable() {
    let reader = Da100Reader::new().unwrap();
    let whole = generated_pdf(G4_SCAN);
    for cut in [whole.len() / 2, whole.len() - 200, 100] {
        let result = reader.read(&whole[..cut]);
        assert!(
            matches!(result, Err(ReadError::Unreadable(_))),
            "cut at {cut}: {result:?}"
        );
    }
    // A PDF header and trailer around noise.
    let mut junk = b"%PDF-1.7\n".to_vec();
    junk.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    junk.extend(b"\n%%EOF\n");
    assert!(matches!(reader.read(&junk), Err(ReadError::Unreadable(_))));
    // A scan whose JPEG data is zeroed in the middle: decoders may still
    // make an image of it, so what is asserted is an answer, not a panic.
    let mut broken = generated_pdf(JPEG_SCAN);
    let middle = broken.len() / 3;
    broken[middle..middle + 4000].fill(0);
    let result = reader.read(&broken);
    assert!(
        result.is_err() || result.as_ref().is_ok_and(|r| r.forms <= 1),
        "{result:?}"
    );
}

#[test]
fn another_document_is_an_unknown_form() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("invoice.png");
    let pdf = dir.path().join("invoice.pdf");
    run(
        "/usr/bin/convert",
        &[
            "-size",
            "850x1100",
            "xc:white",
            "-fill",
            "black",
            "-font",
            "DejaVu-Sans",
            "-pointsize",
            "40",
            "-annotate",
            "+100+200",
            "FACTURE 2024-118",
            "-draw",
            "rectangle 100,300 750,320",
            path(&png),
        ],
    );
    run(
        "img2pdf",
        &["--pagesize", "Letter", "-o", path(&pdf), path(&png)],
    );
    let reader = Da100Reader::new().unwrap();
    assert_eq!(
        reader.read(&std::fs::read(&pdf).unwrap()),
        Err(ReadError::UnknownForm)
    );
}

#[test]
fn the_blank_form_is_one_form_with_nothing_filled() {
    let reader = Da100Reader::new().unwrap();
    let report = reader.read(&blank_form()).unwrap();
    assert_eq!((report.forms, report.pages), (1, 2));
    assert!(report.fields.is_empty(), "{:?}", report.fields);
    assert!(report.illegible.is_empty(), "{:?}", report.illegible);
    assert!(report.ticked.is_empty());
    assert!(!report.signatures.employer && !report.signatures.user);
    // Both signature boxes are cropped for the staff e-mail, as PNG.
    let zones: Vec<_> = report.crops.iter().map(|c| c.zone.as_str()).collect();
    assert_eq!(zones, ["employer.signature", "user.signature"]);
    assert!(report.crops.iter().all(|c| c.png.starts_with(b"\x89PNG")));
}
