//! Reply composition and rendering, checked by parsing the bytes back.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use mailparse::{MailHeaderMap, ParsedMail};

use super::*;
use crate::domain::{Crop, Employer, FieldId, FieldReading, Request, State, User};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn msg() -> Answered {
    Answered {
        from: "annemariebouchard@sympatico.ca".into(),
        message_id: "<179569784651.22375.8952850495939862292@sympatico.ca>".into(),
        references: vec!["<earlier@sympatico.ca>".into()],
    }
}

fn result(file: &str, outcome: Outcome, reasons: &[&str], id: Option<&str>) -> AttachmentResult {
    AttachmentResult {
        attachment: file.into(),
        outcome,
        reasons: reasons.iter().map(|r| r.parse().unwrap()).collect(),
        request_id: id.map(String::from),
    }
}

fn rendered(reply: &Reply) -> Vec<u8> {
    let at = Utc.with_ymd_and_hms(2024, 11, 18, 8, 32, 0).unwrap();
    render(
        reply,
        "acces@organisme.example",
        "<r1@organisme.example>",
        at,
    )
    .unwrap()
}

fn header(mail: &ParsedMail, name: &str) -> Option<String> {
    mail.headers.get_first_value(name)
}

/// Every leaf part of a parsed message, depth first, with its MIME type.
fn leaves<'a>(mail: &'a ParsedMail<'a>, out: &mut Vec<&'a ParsedMail<'a>>) {
    if mail.subparts.is_empty() {
        out.push(mail);
    }
    for part in &mail.subparts {
        leaves(part, out);
    }
}

fn text_of(bytes: &[u8]) -> String {
    let mail = mailparse::parse_mail(bytes).unwrap();
    let mut parts = vec![];
    leaves(&mail, &mut parts);
    parts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .unwrap()
        .get_body()
        .unwrap()
}

#[test]
fn the_kind_follows_the_results() {
    let t = Templates::builtin();
    let q = |id| result("a.pdf", Outcome::Queued, &[], Some(id));
    let c = result(
        "b.pdf",
        Outcome::Correction,
        &["same_email"],
        Some("DA-2024-000002"),
    );
    let r = result("c.pdf", Outcome::Rejected, &["multi_form"], None);
    let ign = result("logo.png", Outcome::Ignored, &[], None);
    let cases: Vec<(Vec<AttachmentResult>, Vec<Reason>, Option<ReplyKind>)> = vec![
        (
            vec![],
            vec![Reason::NoAttachment],
            Some(ReplyKind::Instructions),
        ),
        (vec![r.clone()], vec![], Some(ReplyKind::Rejection)),
        (
            vec![r.clone(), r.clone()],
            vec![],
            Some(ReplyKind::Rejection),
        ),
        (
            vec![r.clone(), c.clone(), q("DA-2024-000003")],
            vec![],
            Some(ReplyKind::Correction),
        ),
        (
            vec![q("DA-2024-000001"), r.clone()],
            vec![],
            Some(ReplyKind::Ack),
        ),
        (
            vec![q("DA-2024-000001"), ign.clone()],
            vec![],
            Some(ReplyKind::Ack),
        ),
        (vec![ign.clone()], vec![], None),
        (vec![], vec![], None),
    ];
    for (results, reasons, kind) in cases {
        let reply = answer(&msg(), &results, &reasons, Some(date(2024, 11, 20)), &t);
        assert_eq!(
            reply.as_ref().map(|r| r.kind),
            kind,
            "{results:?} {reasons:?}"
        );
    }
}

#[test]
fn an_ack_gives_request_number_and_processing_date_french_first() {
    let t = Templates::builtin();
    let results = [result(
        "formulaire.pdf",
        Outcome::Queued,
        &[],
        Some("DA-2024-000123"),
    )];
    let reply = answer(&msg(), &results, &[], Some(date(2024, 11, 20)), &t).unwrap();
    assert_eq!(reply.kind, ReplyKind::Ack);
    let fr = reply
        .text
        .find("Aujourd'hui, nous traitons les demandes reçues le 20 novembre 2024.")
        .expect("French processing date");
    let en = reply
        .text
        .find("Today we are processing requests received on November 20, 2024.")
        .expect("English processing date");
    assert!(fr < en);
    assert!(reply.text.find("Bonjour").unwrap() < reply.text.find("Hello").unwrap());
    assert_eq!(reply.text.matches("DA-2024-000123").count(), 2);
    assert!(
        reply.subject.ends_with("— DA-2024-000123"),
        "{}",
        reply.subject
    );
    assert!(reply.attachments.is_empty());
    assert_eq!(reply.auto_submitted, AutoSubmitted::AutoReplied);
}

#[test]
fn a_correction_explains_each_reason_and_asks_for_a_reply() {
    let t = Templates::builtin();
    let results = [
        result("1.pdf", Outcome::Rejected, &["multi_form"], None),
        result(
            "2.pdf",
            Outcome::Correction,
            &["shared_email:user", "missing_field:employer.licence"],
            Some("DA-2024-000124"),
        ),
        result("3.pdf", Outcome::Queued, &[], Some("DA-2024-000125")),
    ];
    let reply = answer(&msg(), &results, &[], Some(date(2024, 11, 20)), &t).unwrap();
    assert_eq!(reply.kind, ReplyKind::Correction);
    for needle in [
        "répondez à ce courriel en y joignant le formulaire corrigé",
        "reply to this e-mail with the corrected and signed form",
        "à laquelle vous seul avez accès; qui est différente de celle que nous a fournie le nouvel utilisateur; qui est personnelle ou professionnelle.",
        "L'adresse de courriel de l'utilisateur est une adresse partagée",
        "ne compte pas exactement 6 chiffres",
        "plus d'un formulaire",
        "Numéro de demande : DA-2024-000124",
        "Request number: DA-2024-000125",
        "20 novembre 2024",
    ] {
        assert!(reply.text.contains(needle), "missing {needle:?} in\n{}", reply.text);
    }
    // Several requests: no number in the subject.
    assert!(!reply.subject.contains("DA-"), "{}", reply.subject);
}

#[test]
fn criteria_are_quoted_only_for_email_reasons() {
    let t = Templates::builtin();
    let results = [result(
        "a.pdf",
        Outcome::Correction,
        &["missing_signature:user"],
        Some("DA-2024-000001"),
    )];
    let reply = answer(&msg(), &results, &[], None, &t).unwrap();
    assert!(!reply.text.contains("vous seul avez accès"));
    assert!(
        !reply.text.contains("nous traitons"),
        "no date given, none shown"
    );
}

#[test]
fn instructions_carry_the_blank_form() {
    let t = Templates::builtin();
    let reply = answer(
        &msg(),
        &[],
        &[Reason::NoAttachment],
        Some(date(2024, 11, 20)),
        &t,
    )
    .unwrap();
    assert_eq!(reply.kind, ReplyKind::Instructions);
    assert_eq!(reply.attachments.len(), 1);
    assert!(reply.attachments[0].bytes.starts_with(b"%PDF"));
    let bytes = rendered(&reply);
    let mail = mailparse::parse_mail(&bytes).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    let mut parts = vec![];
    leaves(&mail, &mut parts);
    let types: Vec<&str> = parts.iter().map(|p| p.ctype.mimetype.as_str()).collect();
    assert_eq!(types, ["text/plain", "text/html", "application/pdf"]);
    assert_eq!(parts[2].get_body_raw().unwrap(), t.blank_form());
    assert_eq!(
        parts[2]
            .get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("DA-100.pdf")
    );
}

#[test]
fn rendered_headers_follow_the_contract() {
    let t = Templates::builtin();
    let results = [result(
        "formulaire.pdf",
        Outcome::Queued,
        &[],
        Some("DA-2024-000123"),
    )];
    let reply = answer(&msg(), &results, &[], Some(date(2024, 11, 20)), &t).unwrap();
    let bytes = rendered(&reply);
    let mail = mailparse::parse_mail(&bytes).unwrap();
    assert_eq!(
        header(&mail, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(&mail, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(header(&mail, "X-Guichet-Kind").as_deref(), Some("ack"));
    assert_eq!(
        header(&mail, "In-Reply-To").as_deref(),
        Some("<179569784651.22375.8952850495939862292@sympatico.ca>")
    );
    let references = header(&mail, "References").unwrap();
    let ids: Vec<&str> = references.split_whitespace().collect();
    assert_eq!(
        ids,
        [
            "<earlier@sympatico.ca>",
            "<179569784651.22375.8952850495939862292@sympatico.ca>"
        ]
    );
    assert_eq!(
        header(&mail, "To").as_deref(),
        Some("annemariebouchard@sympatico.ca")
    );
    assert_eq!(
        header(&mail, "From").as_deref(),
        Some("acces@organisme.example")
    );
    assert_eq!(
        header(&mail, "Message-ID").as_deref(),
        Some("<r1@organisme.example>")
    );
    assert_eq!(
        header(&mail, "Subject").as_deref(),
        Some("Accusé de réception / Acknowledgement — DA-2024-000123")
    );
    assert!(header(&mail, "Date").unwrap().contains("18 Nov 2024"));
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    let text = text_of(&bytes);
    assert!(text.contains("20 novembre 2024"));
}

#[test]
fn outside_text_never_reaches_a_header() {
    let t = Templates::builtin();
    let evil = "x.pdf\r\nBcc: x@y";
    let results = [result(
        evil,
        Outcome::Correction,
        &["same_email"],
        Some("DA-2024-000001\r\nBcc: x@y"),
    )];
    let message = Answered {
        from: "a@b.ca".into(),
        message_id: "<m@b.ca>\r\nBcc: x@y".into(),
        references: vec!["<r@b.ca>\r\nBcc: x@y".into(), "<ok@b.ca>".into()],
    };
    let reply = answer(&message, &results, &[], None, &t).unwrap();
    assert!(!reply.subject.contains('\n') && !reply.subject.contains("Bcc"));
    let bytes = rendered(&reply);
    let mail = mailparse::parse_mail(&bytes).unwrap();
    assert!(header(&mail, "Bcc").is_none());
    for h in &mail.headers {
        assert!(
            !h.get_value().contains("x@y"),
            "{}: {}",
            h.get_key(),
            h.get_value()
        );
    }
    assert_eq!(header(&mail, "In-Reply-To"), None);
    assert_eq!(header(&mail, "References").as_deref(), Some("<ok@b.ca>"));
    // In the body, the file name is shown on one line.
    let text = text_of(&bytes);
    assert!(text.contains("x.pdf Bcc: x@y"));
    assert!(
        !text.contains("DA-2024-000001"),
        "a malformed request id is not shown"
    );

    // A subject or recipient tampered with after composing is still caught.
    let mut tampered = reply.clone();
    tampered.subject = "Hi\r\nBcc: x@y".into();
    let mail_bytes = rendered(&tampered);
    let mail = mailparse::parse_mail(&mail_bytes).unwrap();
    assert!(header(&mail, "Bcc").is_none());
    tampered.to = "a@b.ca\r\nBcc: x@y".into();
    let at = Utc.with_ymd_and_hms(2024, 11, 18, 0, 0, 0).unwrap();
    assert!(matches!(
        render(&tampered, "acces@organisme.example", "<r@o.example>", at),
        Err(RenderError::Address(_))
    ));
    assert!(matches!(
        render(&reply, "acces@organisme.example", "r@o.example", at),
        Err(RenderError::MessageId(_))
    ));
}

#[test]
fn form_values_are_escaped_in_html() {
    let t = Templates::builtin();
    let results = [result(
        "<script>alert(1)</script>.pdf",
        Outcome::Rejected,
        &["not_pdf"],
        None,
    )];
    let reply = answer(&msg(), &results, &[], None, &t).unwrap();
    assert!(!reply.html.contains("<script>"));
    assert!(reply.html.contains("&lt;script&gt;"));
    assert_eq!(
        reply.attachments.len(),
        1,
        "a not_pdf rejection gets the blank form"
    );
}

fn request() -> Request {
    let mut fields = BTreeMap::new();
    fields.insert(
        "user.email".to_string(),
        FieldReading {
            value: "patrick.roy80@gmail.com".into(),
            confidence: 0.62,
        },
    );
    Request {
        id: "DA-2024-000123".into(),
        received_at: Utc.with_ymd_and_hms(2024, 11, 18, 8, 3, 11).unwrap(),
        state: State::Review,
        reasons: vec!["illegible:user.email".parse().unwrap()],
        service: Some("PAIE".into()),
        message_id: "<orig@sympatico.ca>".into(),
        attachment: "formulaire.pdf".into(),
        sender: "s.leblanc57@sympatico.ca".into(),
        employer: Employer {
            last_name: "Leblanc".into(),
            first_name: "Sophie".into(),
            licence: "679594".into(),
            email: "s.leblanc57@sympatico.ca".into(),
        },
        user: User {
            last_name: "Roy".into(),
            first_name: "Patrick\r\nBcc: x@y".into(),
            birth_date: "1962-08-22".into(),
            email: "patrick.roy80@gmail.com".into(),
        },
        fields,
        history: vec![],
    }
}

#[test]
fn every_notice_renders_with_its_kind() {
    let t = Templates::builtin();
    let r = request();
    let crops = [Crop {
        zone: "user.email".into(),
        png: vec![0x89, b'P', b'N', b'G'],
    }];
    let notices = [
        (
            notices::approval_request(
                &t,
                &r,
                &crops,
                "agent@organisme.example",
                "acces+tok@organisme.example",
            ),
            "agent@organisme.example",
        ),
        (notices::approved(&t, &r), "s.leblanc57@sympatico.ca"),
        (
            notices::refused(&t, &r, "Signature illisible\r\nBcc: x@y"),
            "s.leblanc57@sympatico.ca",
        ),
        (
            notices::username(&t, &r, "proy4821"),
            "s.leblanc57@sympatico.ca",
        ),
        (
            notices::temporary_password(&t, &r, "Kp7-wq2-Zr9"),
            "patrick.roy80@gmail.com",
        ),
        (
            notices::digest(
                &t,
                "agent@organisme.example",
                std::slice::from_ref(&r),
                &[(r.state.as_str().to_string(), 1)].into(),
                Some(date(2024, 11, 20)),
            ),
            "agent@organisme.example",
        ),
        (
            notices::staff_notice(
                &t,
                "agent@organisme.example",
                Some(&r.id),
                &notices::Problem::NoVerb,
                None,
                "<staff@organisme.example>",
            ),
            "agent@organisme.example",
        ),
    ];
    for (reply, to) in &notices {
        let bytes = rendered(reply);
        let mail = mailparse::parse_mail(&bytes).unwrap();
        let kind = reply.kind.as_str();
        assert_eq!(header(&mail, "X-Guichet-Kind").as_deref(), Some(kind));
        assert_eq!(
            header(&mail, "Auto-Submitted").as_deref(),
            Some("auto-generated"),
            "{kind}"
        );
        assert_eq!(header(&mail, "To").as_deref(), Some(*to), "{kind}");
        assert!(header(&mail, "Bcc").is_none(), "{kind}");
        let text = text_of(&bytes);
        assert!(
            text.find("Bonjour").unwrap() < text.find("Hello").unwrap(),
            "{kind}"
        );
        assert!(!text.contains("{{"), "{kind}: unfilled placeholder\n{text}");
    }
    let request_mail = rendered(&notices[0].0);
    let mail = mailparse::parse_mail(&request_mail).unwrap();
    assert_eq!(
        header(&mail, "Reply-To").as_deref(),
        Some("acces+tok@organisme.example")
    );
    let mut parts = vec![];
    leaves(&mail, &mut parts);
    let image = parts
        .iter()
        .find(|p| p.ctype.mimetype == "image/png")
        .unwrap();
    assert_eq!(
        header(image, "Content-ID").as_deref(),
        Some("<crop0@guichet>")
    );
    let html = parts
        .iter()
        .find(|p| p.ctype.mimetype == "text/html")
        .unwrap();
    assert!(html
        .get_body()
        .unwrap()
        .contains("src=\"cid:crop0@guichet\""));
    let text = text_of(&request_mail);
    assert!(
        text.contains("- Courriel de l'utilisateur : patrick.roy80@gmail.com (illisible"),
        "{text}"
    );
    assert!(text.contains("APPROUVER") && text.contains("REFUSE") && text.contains("CORRIGER"));
    // A person's words, never field ids or machine states.
    for machine in ["user.email", "review", "queued", "employer."] {
        assert!(!text.contains(machine), "{machine} shown:\n{text}");
    }
    // Approved and refused notices thread under the applicant's e-mail.
    let approved_bytes = rendered(&notices[1].0);
    let approved = mailparse::parse_mail(&approved_bytes).unwrap();
    assert_eq!(
        header(&approved, "In-Reply-To").as_deref(),
        Some("<orig@sympatico.ca>")
    );
    assert!(text_of(&rendered(&notices[3].0)).contains("proy4821"));
    assert!(text_of(&rendered(&notices[2].0)).contains("Signature illisible Bcc: x@y"));
}

#[test]
fn the_approval_request_puts_doubtful_fields_first_with_their_crop() {
    let t = Templates::builtin();
    let r = request();
    let crops = [
        Crop {
            zone: "employer.signature".into(),
            png: vec![1],
        },
        Crop {
            zone: "user.email".into(),
            png: vec![2],
        },
    ];
    let reply = notices::approval_request(&t, &r, &crops, "agent@organisme.example", "a@b.c");
    let html = &reply.html;
    // The illegible address's row holds its own crop (cid 1), and comes
    // before the table of the other fields.
    let row_start = html
        .find("<tr><th>Courriel de l&#39;utilisateur</th>")
        .unwrap();
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    assert!(row.contains("cid:crop1@guichet"), "{row}");
    assert!(row.contains("illisible"), "{row}");
    assert!(row_start < html.find("Autres champs lus").unwrap());
    assert!(html.contains("<th>Signature du professionnel</th><td><img src=\"cid:crop0@guichet\""));
    assert!(
        html.contains("<pre>Courriel de l&#39;utilisateur : patrick.roy80@gmail.com</pre>")
            || html.contains("<pre>Courriel de l&#39;utilisateur :</pre>"),
        "{html}"
    );
    assert!(
        html.contains("<pre>User&#39;s e-mail:"),
        "English labels in the English part"
    );
    let text_of_html = crate::staff::reply::html_text(html);
    for machine in ["user.email", "employer.signature", "queued", "review"] {
        assert!(!text_of_html.contains(machine), "{machine} in the HTML");
    }
    // Every label shown can be written back in a field line.
    for lang in Lang::BOTH {
        for id in FieldId::ALL {
            let shown = notices::label(&t, lang, id.as_str());
            assert_eq!(notices::field_named(&t, &shown), Some(id), "{shown}");
        }
    }
    assert_eq!(
        notices::field_named(&t, "USERS EMAIL"),
        Some(FieldId::UserEmail)
    );
    assert_eq!(
        notices::field_named(&t, "user.email"),
        Some(FieldId::UserEmail)
    );
    assert_eq!(notices::field_named(&t, "courriel"), None);
}

#[test]
fn operator_templates_change_the_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("phrases.fr.txt"),
        "subject.ack = Bien reçu\n",
    )
    .unwrap();
    let t = Templates::load(dir.path()).unwrap();
    let results = [result(
        "a.pdf",
        Outcome::Queued,
        &[],
        Some("DA-2024-000001"),
    )];
    let reply = answer(&msg(), &results, &[], None, &t).unwrap();
    assert_eq!(
        reply.subject,
        "Bien reçu / Acknowledgement — DA-2024-000001"
    );
}

#[test]
fn the_digest_gives_depth_per_state_and_the_longest_waiting_first() {
    let t = Templates::builtin();
    let mut old = request();
    old.id = "DA-2024-000001".into();
    let mut refused = request();
    refused.id = "DA-2024-000002".into();
    refused.state = State::Refused;
    let depth = [old.state, refused.state].iter().fold(
        std::collections::BTreeMap::new(),
        |mut depth, s| {
            *depth.entry(s.as_str().to_string()).or_default() += 1;
            depth
        },
    );
    let reply = notices::digest(
        &t,
        "agent@organisme.example",
        &[old],
        &depth,
        Some(date(2024, 11, 20)),
    );
    assert!(
        reply
            .text
            .contains("en attente 0, à vérifier 1, en correction 0, refusées à la réception 0, approuvées 0, refusées 1"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("DA-2024-000001") && !reply.text.contains("DA-2024-000002"));
}
