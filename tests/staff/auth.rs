//! Sender authentication from `Authentication-Results` headers.

use guichet::staff::auth::{
    aligned, authenticate, evaluate, parse_results, sole_from, AuthFailure, AuthPass,
};
use mailparse::parse_mail;

const TRUSTED: &str = "mx.organisme.example";
const FROM: &str = "agent@organisme.example";

/// Method, result and properties of one parsed result.
type Summary<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

#[test]
fn parses_comments_quotes_versions_and_folding() {
    let value = "mx.organisme.example 1;\r\n\tdkim=pass (2048-bit key; \"unprotected\" (nested)) header.d=organisme.example\r\n\theader.i=@organisme.example header.b=\"Yq3k=Z1aB\";\r\n spf = pass smtp.mailfrom=agent@organisme.example;\tdmarc=pass (p=none dis=none) header.from=organisme.example";
    let parsed = parse_results(value).expect("parses");
    assert_eq!(parsed.authserv_id, "mx.organisme.example");
    let summary: Vec<Summary> = parsed
        .results
        .iter()
        .map(|r| {
            let props = r
                .properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            (r.method.as_str(), r.result.as_str(), props)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "dkim",
                "pass",
                vec![
                    ("header.d", "organisme.example"),
                    ("header.i", "@organisme.example"),
                    ("header.b", "Yq3k=Z1aB"),
                ]
            ),
            (
                "spf",
                "pass",
                vec![("smtp.mailfrom", "agent@organisme.example")]
            ),
            ("dmarc", "pass", vec![("header.from", "organisme.example")]),
        ]
    );
    let none = parse_results("mx.organisme.example; none").expect("parses");
    assert!(none.results.is_empty());
    let quoted =
        parse_results("\"mx.organisme.example\"; DKIM=PASS header.d=x.example").expect("parses");
    assert_eq!(quoted.authserv_id, "mx.organisme.example");
    assert_eq!(
        (
            quoted.results[0].method.as_str(),
            quoted.results[0].result.as_str()
        ),
        ("dkim", "pass")
    );
    assert_eq!(parse_results(""), None);
    assert_eq!(parse_results("; dkim=pass"), None);
}

#[test]
fn verdicts() {
    use AuthFailure::*;
    let not_aligned = || NotAligned {
        from_domain: "organisme.example".into(),
    };
    let dkim = |d: &str| Ok(AuthPass::AlignedDkim { domain: d.into() });
    let cases: Vec<(Vec<&str>, Result<AuthPass, AuthFailure>)> = vec![
        (vec![], Err(NoTrustedResults)),
        (
            vec!["mx.organisme.example; dmarc=pass header.from=organisme.example"],
            Ok(AuthPass::Dmarc),
        ),
        (
            vec!["MX.Organisme.Example; DMARC=Pass"],
            Ok(AuthPass::Dmarc),
        ),
        // Another server's word counts for nothing, however good.
        (
            vec!["mx.evil.example; dmarc=pass; dkim=pass header.d=organisme.example"],
            Err(NoTrustedResults),
        ),
        (
            vec!["mx.organisme.example.evil; dmarc=pass"],
            Err(NoTrustedResults),
        ),
        (vec!["mx.organisme.example; none"], Err(not_aligned())),
        (
            vec!["mx.organisme.example; dkim=pass header.d=organisme.example"],
            dkim("organisme.example"),
        ),
        (
            vec!["mx.organisme.example; dkim=pass header.d=Mail.Organisme.Example."],
            dkim("mail.organisme.example"),
        ),
        (
            vec!["mx.organisme.example; dkim=pass header.i=agent@organisme.example"],
            dkim("organisme.example"),
        ),
        (
            vec!["mx.organisme.example; dkim=pass header.d=sendgrid.net"],
            Err(not_aligned()),
        ),
        (
            vec!["mx.organisme.example; dkim=pass header.d=example"],
            Err(not_aligned()),
        ),
        (
            vec!["mx.organisme.example; dkim=fail header.d=organisme.example"],
            Err(not_aligned()),
        ),
        (
            vec!["mx.organisme.example; dkim=pass (header.d=organisme.example)"],
            Err(not_aligned()),
        ),
        (
            vec!["mx.organisme.example; spf=pass smtp.mailfrom=agent@organisme.example"],
            Err(not_aligned()),
        ),
        (
            vec!["mx.organisme.example; dmarc=fail; dkim=pass header.d=organisme.example"],
            Err(DmarcFailed),
        ),
        // Several headers: a failing one from the trusted server vetoes a
        // pass that may have been forged further down.
        (
            vec![
                "mx.organisme.example; dmarc=fail header.from=organisme.example",
                "mx.organisme.example; dmarc=pass",
            ],
            Err(DmarcFailed),
        ),
        // opendkim and opendmarc each add their own header.
        (
            vec![
                "mx.organisme.example; dkim=none",
                "mx.organisme.example; dkim=pass header.d=sendgrid.net",
                "mx.organisme.example; dkim=pass header.d=organisme.example",
            ],
            dkim("organisme.example"),
        ),
        (
            vec![
                "mx.evil.example; dmarc=pass",
                "mx.organisme.example; dkim=pass header.d=organisme.example",
            ],
            dkim("organisme.example"),
        ),
    ];
    for (values, want) in cases {
        assert_eq!(
            evaluate(values.iter().copied(), Some(FROM), TRUSTED),
            want,
            "{values:?}"
        );
    }
    assert_eq!(
        evaluate(["mx.organisme.example; dmarc=pass"], None, TRUSTED),
        Err(NoFrom)
    );
    assert_eq!(
        evaluate(
            ["mx.organisme.example; dmarc=pass"],
            Some("no-at-sign"),
            TRUSTED
        ),
        Err(NoFrom)
    );
}

#[test]
fn alignment_is_equality_or_subdomain() {
    let cases = [
        ("organisme.example", "organisme.example", true),
        ("ORGANISME.example", "organisme.EXAMPLE", true),
        ("mail.organisme.example", "organisme.example", true),
        ("organisme.example", "rh.organisme.example", true),
        ("a.organisme.example", "b.organisme.example", false),
        ("evilorganisme.example", "organisme.example", false),
        ("organisme.example.evil", "organisme.example", false),
        ("example", "organisme.example", false),
        ("", "organisme.example", false),
    ];
    for (signing, from, want) in cases {
        assert_eq!(aligned(signing, from), want, "{signing} / {from}");
    }
}

#[test]
fn authenticate_reads_the_message_headers() {
    let mail = |headers: &str| format!("{headers}Subject: x\r\n\r\nAPPROUVER\r\n");
    let cases = [
        (
            "Authentication-Results: mx.organisme.example;\r\n\tdkim=pass header.d=organisme.example;\r\n\tdmarc=pass header.from=organisme.example\r\nFrom: Marie <agent@organisme.example>\r\n",
            Ok(AuthPass::Dmarc),
        ),
        ("From: Marie <agent@organisme.example>\r\n", Err(AuthFailure::NoTrustedResults)),
        (
            "Authentication-Results: mx.organisme.example; dmarc=pass\r\nFrom: a@organisme.example\r\nFrom: b@organisme.example\r\n",
            Err(AuthFailure::NoFrom),
        ),
        (
            "Authentication-Results: mx.organisme.example; dmarc=pass\r\nFrom: a@organisme.example, b@organisme.example\r\n",
            Err(AuthFailure::NoFrom),
        ),
    ];
    for (headers, want) in cases {
        let raw = mail(headers);
        let parsed = parse_mail(raw.as_bytes()).expect("parses");
        assert_eq!(authenticate(&parsed.headers, TRUSTED), want, "{headers:?}");
    }
    let raw = mail("From: \"Tremblay, Marie\" <Agent@Organisme.example>\r\n");
    let parsed = parse_mail(raw.as_bytes()).expect("parses");
    assert_eq!(
        sole_from(&parsed.headers).as_deref(),
        Some("Agent@Organisme.example")
    );
}
