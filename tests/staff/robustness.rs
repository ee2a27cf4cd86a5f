//! Hostile or broken input never panics: random concatenations of the
//! pieces the parsers care about (tags, entities, quotes, comments,
//! attributions, multi-byte characters) are fed to every entry point.

use guichet::staff::auth::{evaluate, parse_results};
use guichet::staff::reply::{decide, decision_of};
use guichet::staff::token::Token;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const PIECES: &[&str] = &[
    "<",
    ">",
    "</",
    "<!--",
    "-->",
    "&",
    ";",
    "&#",
    "&#x",
    "&#xFFFFFFFF;",
    "&eacute;",
    "\"",
    "'",
    "=",
    "(",
    ")",
    "\\",
    " ",
    "\r\n",
    "\n",
    "\t",
    "é",
    "€",
    "\u{a0}",
    "👍",
    "--",
    "-- ",
    "> ",
    "_____________________",
    "<blockquote>",
    "<div class=\"gmail_quote\">",
    "<div id=divRplyFwdMsg",
    "<hr",
    "<style>",
    "</style>",
    "<br>",
    "Le ",
    "a écrit :",
    "On ",
    "wrote:",
    "De :",
    "Envoyé :",
    "From:",
    "Sent:",
    "APPROUVER",
    "REFUSER",
    "refuse",
    "mx.organisme.example",
    "dkim=pass",
    "dmarc",
    "header.d=",
    "header.i=@",
    "@",
    "+",
    "acces+",
    "organisme.example",
    "x",
];

fn random_text(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..60);
    (0..n).filter_map(|_| PIECES.choose(rng).copied()).collect()
}

#[test]
fn random_input_never_panics() {
    let mut rng = StdRng::seed_from_u64(0x0067_7569_6368_6574);
    for _ in 0..3000 {
        let text = random_text(&mut rng);
        let _ = decide(&text);
        let _ = parse_results(&text);
        let _ = evaluate([text.as_str()], Some(&text), "mx.organisme.example");
        let _ = Token::in_address(&text, "acces@organisme.example");
        for ctype in ["text/plain; format=flowed; delsp=yes", "text/html"] {
            let raw = format!("Content-Type: {ctype}\r\n\r\n{text}");
            let _ = decision_of(raw.as_bytes());
        }
        let _ = decision_of(text.as_bytes());
    }
}

#[test]
fn large_hostile_bodies_are_read_quickly() {
    let bodies = [
        ("text/plain", "From: x\r\nLe a\r\nOn \r\n".repeat(40_000)),
        ("text/plain", format!("REFUSER {}", "mot ".repeat(300_000))),
        (
            "text/html",
            "<div class='a' id='b' title=\"c>\">&eacute;".repeat(30_000),
        ),
        ("text/html", format!("<p {}", "\"".repeat(1_000_000))),
    ];
    for (ctype, body) in bodies {
        let raw = format!("Content-Type: {ctype}; charset=utf-8\r\n\r\n{body}");
        let start = std::time::Instant::now();
        let _ = decision_of(raw.as_bytes());
        let took = start.elapsed();
        assert!(
            took.as_secs_f64() < 2.0,
            "{ctype}, {} bytes: {took:?}",
            raw.len()
        );
    }
}
