//! The project's own test corpus, so that tests stand on the repository
//! alone: forms made by `tools/gencorpus` (the same arguments give the same
//! forms), and e-mails built around them with the result each must get.
//!
//! Generated forms are kept under the build's temporary directory, named by
//! the generator's arguments and its own source, so each test binary pays for
//! them once per change. Nothing here reads outside the repository; a tool
//! that is missing or fails fails the test.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use serde::Deserialize;

const PYTHON: &str = "/usr/bin/python3";

/// One generated form's truth, as `tools/gencorpus/truth.py` writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    pub file: String,
    pub forms: u32,
    pub outcome: String,
    pub reasons: Vec<String>,
    pub service: Option<String>,
    pub signatures: guichet::domain::Signatures,
    pub review_ok: bool,
    pub flaw: String,
    pub produced_by: String,
    pub fields: BTreeMap<String, String>,
}

/// A generated corpus: its folder and the truth of each form, in order.
pub struct Forms {
    pub dir: PathBuf,
    pub truth: Vec<Truth>,
}

impl Forms {
    pub fn pdf(&self, i: usize) -> Vec<u8> {
        std::fs::read(self.path(i)).expect("generated PDF")
    }

    pub fn path(&self, i: usize) -> PathBuf {
        self.dir.join(&self.truth[i].file)
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What the generator's output depends on: its arguments and its code.
fn cache_key(args: &[&str]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    args.hash(&mut h);
    let tool = repo().join("tools/gencorpus");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&tool)
        .expect("tools/gencorpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    sources.sort();
    for p in sources {
        std::fs::read(&p).expect("generator source").hash(&mut h);
    }
    for data in ["data/da-100/layout.json", "data/da-100/blank.pdf"] {
        std::fs::read(repo().join(data))
            .expect("form data")
            .hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// Runs `gencorpus.py ARGS --out DIR` (or reuses its earlier output).
pub fn forms(args: &[&str]) -> Forms {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gencorpus");
    let dir = root.join(cache_key(args));
    if !dir.join("truth.json").exists() {
        std::fs::create_dir_all(&root).expect("cache folder");
        let work = tempfile::tempdir_in(&root).expect("work folder");
        let run = Command::new(PYTHON)
            .arg(repo().join("tools/gencorpus/gencorpus.py"))
            .args(args)
            .arg("--out")
            .arg(work.path())
            .output()
            .expect("run /usr/bin/python3 (make test-deps installs the generator's packages)");
        assert!(
            run.status.success(),
            "gencorpus.py {args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        // Another test binary may have won the race: its copy is as good.
        let _ = std::fs::rename(work.keep(), &dir);
    }
    let text = std::fs::read_to_string(dir.join("truth.json")).expect("truth.json");
    let truth = serde_json::from_str(&text).expect("truth.json parses");
    Forms { dir, truth }
}

/// The result one request must get: its outcome and reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub outcome: String,
    pub reasons: Vec<String>,
}

impl Expected {
    fn of(truth: &Truth) -> Self {
        Expected {
            outcome: truth.outcome.clone(),
            reasons: truth.reasons.clone(),
        }
    }

    fn rejected(reason: &str) -> Self {
        Expected {
            outcome: "rejected".into(),
            reasons: vec![reason.into()],
        }
    }
}

/// One e-mail of the mail corpus, as it lands in a Maildir's `new/`.
pub struct Mail {
    pub name: String,
    pub raw: Vec<u8>,
    /// `forms`, `noattach`, `jpeg`, `encrypted`, `truncated`, `autoreply`,
    /// `bounce` or `redeliver` (the same message again, one more trace header).
    pub kind: &'static str,
    /// Whether guichet owes this message a reply.
    pub reply: bool,
    /// One entry per request the message makes, in attachment order.
    pub requests: Vec<Expected>,
}

struct Draft {
    kind: &'static str,
    extra_headers: &'static str,
    attachments: Vec<(String, &'static str, Vec<u8>)>,
    requests: Vec<Expected>,
}

fn pdf_part(name: &str, bytes: Vec<u8>) -> (String, &'static str, Vec<u8>) {
    (name.to_string(), "application/pdf", bytes)
}

/// The forms of the mail corpus: eight of the generator's usual mix, scanned
/// at 200 dpi on one side (the flaws, productions and people vary by form).
pub fn mail_forms() -> Forms {
    forms(&["--seed", "31", "--count", "8", "--dpi", "200", "--simplex"])
}

/// Runs a tool on files, failing the test with its stderr if it fails.
pub fn tool(program: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn encrypted(pdf: &Path, work: &Path) -> Vec<u8> {
    let out = work.join("encrypted.pdf");
    let args = ["--encrypt", "lecture", "proprio", "256", "--"].map(std::ffi::OsStr::new);
    let mut all: Vec<&std::ffi::OsStr> = args.to_vec();
    all.extend([pdf.as_os_str(), out.as_os_str()]);
    tool("qpdf", &all);
    std::fs::read(out).expect("qpdf output")
}

fn photo(pdf: &Path, work: &Path) -> Vec<u8> {
    let root = work.join("photo");
    let args = ["-jpeg", "-r", "30", "-f", "1", "-l", "1", "-singlefile"].map(std::ffi::OsStr::new);
    let mut all: Vec<&std::ffi::OsStr> = args.to_vec();
    all.extend([pdf.as_os_str(), root.as_os_str()]);
    tool("pdftoppm", &all);
    std::fs::read(work.join("photo.jpg")).expect("pdftoppm output")
}

/// The mail corpus: every message-level case the daemon meets, each with
/// the result the contract gives it, built from [`mail_forms`].
pub fn mail_corpus() -> Vec<Mail> {
    let forms = mail_forms();
    let work = tempfile::tempdir().expect("work folder");
    let form = |i: usize| pdf_part(&format!("DA-100 {}.pdf", i + 1), forms.pdf(i));
    let expect = |i: usize| Expected::of(&forms.truth[i]);
    let mut truncated = forms.pdf(2);
    truncated.truncate(truncated.len() / 2);
    let drafts = vec![
        Draft {
            kind: "forms",
            extra_headers: "",
            attachments: vec![form(0)],
            requests: vec![expect(0)],
        },
        Draft {
            kind: "noattach",
            extra_headers: "",
            attachments: vec![],
            requests: vec![],
        },
        Draft {
            kind: "forms",
            extra_headers: "",
            attachments: vec![form(1), form(2)],
            requests: vec![expect(1), expect(2)],
        },
        Draft {
            kind: "encrypted",
            extra_headers: "",
            attachments: vec![pdf_part(
                "formulaire.pdf",
                encrypted(&forms.path(3), work.path()),
            )],
            requests: vec![Expected::rejected("encrypted_pdf")],
        },
        Draft {
            kind: "forms",
            extra_headers: "",
            attachments: vec![form(3), form(4), form(5)],
            requests: vec![expect(3), expect(4), expect(5)],
        },
        Draft {
            kind: "jpeg",
            extra_headers: "",
            attachments: vec![(
                "IMG_2041.jpg".into(),
                "image/jpeg",
                photo(&forms.path(0), work.path()),
            )],
            requests: vec![Expected::rejected("not_pdf")],
        },
        Draft {
            kind: "autoreply",
            extra_headers: "Auto-Submitted: auto-replied\r\n",
            attachments: vec![form(6)],
            requests: vec![],
        },
        Draft {
            kind: "truncated",
            extra_headers: "",
            attachments: vec![pdf_part("formulaire.pdf", truncated)],
            requests: vec![Expected::rejected("unreadable_pdf")],
        },
        Draft {
            kind: "forms",
            extra_headers: "",
            attachments: vec![form(6), form(7)],
            requests: vec![expect(6), expect(7)],
        },
        Draft {
            kind: "bounce",
            extra_headers: "",
            attachments: vec![],
            requests: vec![],
        },
    ];
    let mut out: Vec<Mail> = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| draft_mail(i, d))
        .collect();
    // The first message again, as a relay that delivered it twice would.
    let first = &out[0];
    let mut again = b"Received: from relay2.example (relay2.example [192.0.2.7])\r\n\tby mx.organisme.example; Mon, 2 Dec 2024 12:00:00 +0000\r\n".to_vec();
    again.extend_from_slice(&first.raw);
    out.push(Mail {
        name: format!("{}.M99P1.redeliver:2,", 1_733_130_000 + 99 * 600),
        raw: again,
        kind: "redeliver",
        reply: false,
        requests: vec![],
    });
    out
}

fn draft_mail(i: usize, d: Draft) -> Mail {
    let (from, subject): (Mailbox, &str) = if d.kind == "bounce" {
        (
            "MAILER-DAEMON@mx.clinique.example".parse().unwrap(),
            "Undelivered Mail Returned to Sender",
        )
    } else {
        (
            format!("Secrétariat {i} <secretariat.{i}@clinique{i}.example>")
                .parse()
                .unwrap(),
            "Demande d'accès DA-100",
        )
    };
    let builder = lettre::Message::builder()
        .from(from)
        .to("acces@organisme.example".parse().unwrap())
        .subject(subject)
        .message_id(Some(format!("<corpus-{i}@clinique{i}.example>")));
    let text = SinglePart::plain(String::from("Bonjour, voici notre demande.\r\n"));
    let message = if d.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for (name, ctype, bytes) in d.attachments {
            let ctype = ContentType::parse(ctype).expect("content type");
            parts = parts.singlepart(Attachment::new(name).body(bytes, ctype));
        }
        builder.multipart(parts)
    }
    .expect("a well-formed test message");
    let mut raw = d.extra_headers.as_bytes().to_vec();
    raw.extend_from_slice(&message.formatted());
    Mail {
        name: format!("{}.M{i}P1.intake:2,", 1_733_130_000 + i * 600),
        raw,
        kind: d.kind,
        reply: !matches!(d.kind, "autoreply" | "bounce"),
        requests: d.requests,
    }
}
