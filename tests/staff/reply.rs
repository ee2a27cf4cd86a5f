//! Staff reply parsing over realistic replies from the common mail clients
//! (fixtures in `tests/fixtures/staff-replies/`), and over short texts for
//! the edge cases of the first line.

use std::path::PathBuf;

use guichet::staff::reply::{decide, decision_of, Decision, MAX_REASON_CHARS};

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/staff-replies",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn refuse(reason: &str) -> Decision {
    Decision::Refuse(reason.to_string())
}

#[test]
fn fixtures_give_the_decision_above_the_quote() {
    let cases = [
        ("gmail-fr-approve.eml", Decision::Approve),
        ("gmail-en-refuse.eml", refuse("The user's signature is missing on page 2.")),
        ("gmail-html-only-en-approve.eml", Decision::Approve),
        (
            "outlook-fr-refuse.eml",
            refuse("Le numéro de permis ne correspond pas à celui du registre."),
        ),
        ("outlook-fr-approve-message-origine.eml", Decision::Approve),
        ("outlook-en-approve.eml", Decision::Approve),
        (
            "outlook-en-refuse-two-lines.eml",
            refuse(
                "the service box ticked (PAIE) is not one the professional may delegate;\n\
                 please ask for a new form with FACT ticked.",
            ),
        ),
        (
            "outlook-html-only-fr-refuse.eml",
            refuse("l’adresse courriel de l'utilisateur est celle de la réception (adresse partagée)."),
        ),
        (
            "apple-mail-fr-refuse-folded.eml",
            refuse("la signature de l’utilisateur est un nom tapé, pas une signature manuscrite."),
        ),
        ("iphone-fr-approve.eml", Decision::Approve),
        ("iphone-en-refuse.eml", refuse("wrong service ticked")),
        (
            "thunderbird-en-refuse-flowed.eml",
            refuse(
                "the licence number on the form is illegible and the scan is cut off at the bottom of page 1.",
            ),
        ),
        ("thunderbird-fr-approve.eml", Decision::Approve),
        (
            "refuse-above-quoted-approve.eml",
            refuse("La signature du professionnel est absente\net la case du service n'est pas cochée."),
        ),
        ("empty-reply.eml", Decision::Unclear),
        ("conditional-approve-unclear.eml", Decision::Unclear),
    ];
    for (name, want) in cases {
        assert_eq!(decision_of(&fixture(name)), want, "{name}");
    }
}

#[test]
fn every_fixture_is_in_the_table() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/staff-replies"]
        .iter()
        .collect();
    let count = std::fs::read_dir(dir)
        .expect("fixture folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
        })
        .count();
    assert_eq!(count, 16, "add new fixtures to the table above");
}

#[test]
fn first_line_decides_with_case_and_accents_ignored() {
    let cases: [(&str, Decision); 24] = [
        ("APPROUVER", Decision::Approve),
        ("approve", Decision::Approve),
        ("  Approuver.  \n\nMarie", Decision::Approve),
        ("ÀPPRÔUVER !", Decision::Approve),
        ("*APPROUVER*", Decision::Approve),
        ("\n\n\nAPPROVE\n", Decision::Approve),
        ("Approve, thanks", Decision::Approve),
        ("Approuver merci beaucoup", Decision::Approve),
        ("APPROUVER sauf le service PAIE", Decision::Unclear),
        ("APPROUVÉ", Decision::Unclear),
        ("APPROUVER2", Decision::Unclear),
        ("REFUSER", Decision::Unclear),
        ("REFUSER :", Decision::Unclear),
        ("REFUSER signature absente", refuse("signature absente")),
        ("*REFUSER* signature absente", refuse("signature absente")),
        ("APPROUVE\u{301}R", Decision::Approve),
        ("Refusér: signature absente", refuse("signature absente")),
        ("REFUSÉ – formulaire périmé", refuse("formulaire périmé")),
        (
            "refuse\nThe form is\n\n\nan old version.\n",
            refuse("The form is\n\nan old version."),
        ),
        ("REFUSE bad scan\n-- \nSam", refuse("bad scan")),
        ("OK", Decision::Unclear),
        ("Oui, approuver", Decision::Unclear),
        ("", Decision::Unclear),
        ("> APPROUVER", Decision::Unclear),
    ];
    for (text, want) in cases {
        assert_eq!(decide(text), want, "{text:?}");
    }
}

#[test]
fn quoting_styles_cut_the_reason() {
    let cut_by = [
        "> quoted",
        "On Tue, 19 Nov 2024 at 10:00, X <x@example.org> wrote:",
        "On Tue, 19 Nov 2024 at 10:00, A Very Long Display Name\n<someone@example.org> wrote:",
        "Le mar. 19 nov. 2024, 10:00, X <x@example.org> a écrit :",
        "Le 19 nov. 2024 à 10:00, X <x@example.org> a\nécrit :",
        "Le 19/11/2024 à 10:00,\nUn Nom Très Long\n<x@example.org> a écrit :",
        "-----Original Message-----\nFrom: x",
        "-----Message d'origine-----",
        "---------- Forwarded message ---------",
        "De : X\nEnvoyé : mardi\nÀ : Y\nObjet : Z",
        "From: X\nSent: Tuesday\nTo: Y\nSubject: Z",
        "________________________________\nFrom: X",
        "-- \nMarie",
        "--\nMarie",
        "Envoyé de mon iPhone",
        "Sent from my iPad",
        "Sent from Outlook for Android",
        "Sent from Mail for Windows",
        "Envoyé à partir de Courrier pour Windows",
        "Envoyé depuis mon Galaxy",
        "Cordialement,\nMarie",
        "Bien cordialement\nMarie",
        "Best regards,\nSam",
    ];
    for tail in cut_by {
        let text = format!("REFUSER motif\nsur deux lignes\n{tail}\nfin du message cité");
        assert_eq!(
            decide(&text),
            refuse("motif\nsur deux lignes"),
            "cut at {tail:?}"
        );
    }
    // Lines that only look like quoting are part of the reason.
    let kept = [
        "Le professionnel a déjà un accès.",
        "On a vérifié le registre.",
        "De plus, la date est illisible.",
        "From the scan, the box is empty.",
        "Merci de renvoyer le formulaire.",
    ];
    for line in kept {
        let text = format!("REFUSER motif\n{line}\n\n> cité");
        assert_eq!(decide(&text), refuse(&format!("motif\n{line}")), "{line:?}");
    }
}

#[test]
fn flowed_text_is_joined() {
    let raw = |params: &str, body: &str| {
        format!("Content-Type: text/plain; charset=utf-8; {params}\r\n\r\n{body}").into_bytes()
    };
    let body = "REFUSER permis \r\nillisible\r\n >cité, pas une citation\r\n-- \r\nSam\r\n";
    let cases = [
        (
            "format=flowed",
            refuse("permis illisible\n>cité, pas une citation"),
        ),
        (
            "format=flowed; delsp=yes",
            refuse("permisillisible\n>cité, pas une citation"),
        ),
        ("", refuse("permis\nillisible\n>cité, pas une citation")),
    ];
    for (params, want) in cases {
        assert_eq!(decision_of(&raw(params, body)), want, "{params}");
    }
}

#[test]
fn reasons_are_bounded() {
    let long = "mot ".repeat(600);
    let Decision::Refuse(reason) = decide(&format!("REFUSER {long}")) else {
        panic!("not a refusal");
    };
    assert!(
        reason.chars().count() <= MAX_REASON_CHARS,
        "{}",
        reason.len()
    );
    assert!(reason.ends_with("mot…"), "cut at a word: {reason:?}");
}

#[test]
fn unreadable_messages_are_unclear() {
    let cases: [&[u8]; 4] = [
        b"",
        b"\xff\xfe\x00garbage",
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nAPPROUVER\r\n--x--\r\n",
    ];
    for raw in cases {
        assert_eq!(decision_of(raw), Decision::Unclear, "{raw:?}");
    }
}
