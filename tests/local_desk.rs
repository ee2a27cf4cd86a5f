//! The whole desk on local folders (the built-in default): Maildir in,
//! `.eml` files out, sled store, the real form reader.

use std::path::Path;

use guichet::config::Settings;
use guichet::daemon::Daemon;
use guichet::domain::State;
use guichet::intake::{maildir::Maildir, Disposition, Incoming, Mailbox};
use guichet::outbox::file::FileTransport;
use guichet::pipeline::Desk;
use guichet::store::Store;

#[path = "support/corpus.rs"]
mod corpus;

fn settings(dir: &Path) -> Settings {
    let env = [
        ("GUICHET__INTAKE__MAILDIR", dir.join("inbox")),
        ("GUICHET__OUTBOX__DIR", dir.join("outbox")),
        ("GUICHET__STORE__PATH", dir.join("db")),
    ]
    .map(|(k, v)| (k.to_string(), v.display().to_string()));
    Settings::load_with_env(None, env).unwrap()
}

fn daemon(dir: &Path) -> Daemon<Maildir, FileTransport> {
    let s = settings(dir);
    Daemon {
        desk: Desk::from_settings(&s).unwrap(),
        mailbox: Maildir::open(&s.intake.maildir, s.intake.max_message_bytes).unwrap(),
        transport: FileTransport::new(&s.outbox.dir).unwrap(),
        settings: s,
    }
}

/// The answers to applicants written so far, parsed: (kind, in-reply-to, to).
fn replies(dir: &Path) -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return vec![];
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let raw = std::fs::read(e.path()).unwrap();
        let mail = mailparse::parse_mail(&raw).unwrap();
        use mailparse::MailHeaderMap;
        let h = |n: &str| mail.headers.get_first_value(n).unwrap_or_default();
        // Messages to staff (approval requests, digest) answer no applicant.
        if matches!(h("X-Guichet-Kind").as_str(), "approval-request" | "digest") {
            continue;
        }
        out.push((h("X-Guichet-Kind"), h("In-Reply-To"), h("To")));
    }
    out
}

fn drop_in(dir: &Path, name: &str, bytes: &[u8]) {
    let new = dir.join("inbox/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(new.join(name), bytes).unwrap();
}

fn message_id(raw: &[u8]) -> String {
    use mailparse::MailHeaderMap;
    mailparse::parse_mail(raw)
        .unwrap()
        .headers
        .get_first_value("Message-ID")
        .unwrap()
}

fn store(dir: &Path) -> Store {
    Store::open_waiting(&dir.join("db"), std::time::Duration::from_secs(10)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_corpus_message_gets_its_message_level_result() {
    let corpus = corpus::mail_corpus();
    let dir = tempfile::tempdir().unwrap();
    for m in &corpus {
        drop_in(dir.path(), &m.name, &m.raw);
    }
    let mut d = daemon(dir.path());
    let report = d.tick().await.unwrap();
    assert_eq!(report.handled, corpus.len());
    drop(d);

    let sent = replies(dir.path());
    let due = corpus.iter().filter(|m| m.reply).count();
    assert_eq!(sent.len(), due, "one reply per message due one, no more");
    let requests = store(dir.path()).requests(None).unwrap();
    for m in &corpus {
        let id = message_id(&m.raw);
        let answers: Vec<_> = sent.iter().filter(|r| r.1 == id).collect();
        if m.kind == "redeliver" {
            continue; // same Message-ID as the message it repeats: counted there
        }
        // One reply at most per message; none to auto-replies and bounces.
        assert_eq!(
            answers.len(),
            usize::from(m.reply),
            "{} {id}: replies {answers:?}",
            m.kind
        );
        let mine: Vec<_> = requests.iter().filter(|r| r.message_id == id).collect();
        assert_eq!(mine.len(), m.requests.len(), "{} {id}", m.kind);
        for (req, exp) in mine.iter().zip(&m.requests) {
            // A field the reader doubts (`illegible:`) sends the request to a
            // person (`review`): safe, and measured by the reader's accuracy
            // figures, not here. Every other reason must be the truth's.
            let reasons: Vec<String> = req
                .reasons
                .iter()
                .map(|r| r.to_string())
                .filter(|r| !r.starts_with("illegible:"))
                .collect();
            let doubted = req.state == State::Review && exp.outcome == "queued";
            if !doubted {
                assert_eq!(req.state.as_str(), exp.outcome, "{} {id}", m.kind);
            }
            assert_eq!(reasons, exp.reasons, "{} {id}", m.kind);
        }
        match m.kind {
            "noattach" => assert_eq!(answers[0].0, "instructions"),
            "encrypted" | "truncated" | "jpeg" => assert_eq!(answers[0].0, "rejection"),
            _ => {}
        }
    }
}

/// A mailbox that fails to move the first message, as a crash right after
/// the commit would.
struct CrashOnFirstSettle {
    inner: Maildir,
    crashed: bool,
}

impl Mailbox for CrashOnFirstSettle {
    async fn next(&mut self) -> anyhow::Result<Option<Incoming>> {
        self.inner.next().await
    }
    async fn settle(&mut self, key: &str, d: Disposition) -> anyhow::Result<()> {
        if !self.crashed {
            self.crashed = true;
            anyhow::bail!("simulated crash between commit and move");
        }
        self.inner.settle(key, d).await
    }
    async fn wait(&mut self, max: std::time::Duration) -> anyhow::Result<()> {
        self.inner.wait(max).await
    }
}

const NO_ATTACHMENT: &[u8] = b"From: Lea Fortin <lea.fortin@clinique.example>\r\n\
To: acces@organisme.example\r\nSubject: formulaire\r\nMessage-ID: <crash-1@clinique.example>\r\n\r\nBonjour, voici ma demande.\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_commit_and_move_rereads_without_a_second_request_or_reply() {
    let dir = tempfile::tempdir().unwrap();
    drop_in(dir.path(), "1700000000.M1.test", NO_ATTACHMENT);
    let d = daemon(dir.path());
    let mut crashing = Daemon {
        mailbox: CrashOnFirstSettle {
            inner: d.mailbox,
            crashed: false,
        },
        settings: d.settings,
        desk: d.desk,
        transport: d.transport,
    };
    assert!(
        crashing.tick().await.is_err(),
        "the simulated crash must surface"
    );
    drop(crashing);
    assert!(
        dir.path().join("inbox/new/1700000000.M1.test").exists(),
        "still in the inbox"
    );

    let mut restarted = daemon(dir.path());
    restarted.tick().await.unwrap();
    drop(restarted);
    assert!(!dir.path().join("inbox/new/1700000000.M1.test").exists());
    let sent = replies(dir.path());
    assert_eq!(sent.len(), 1, "exactly one reply: {sent:?}");
    assert_eq!(sent[0].0, "instructions");
    assert_eq!(store(dir.path()).status().unwrap().messages_processed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_replies_bounces_and_redeliveries_get_no_reply() {
    let dir = tempfile::tempdir().unwrap();
    let auto = b"From: a@clinique.example\r\nTo: acces@organisme.example\r\nAuto-Submitted: auto-replied\r\n\
Message-ID: <auto@c>\r\nSubject: Absence\r\n\r\nJe suis absente.\r\n";
    let bounce = b"From: MAILER-DAEMON@mx.clinique.example\r\nTo: acces@organisme.example\r\n\
Message-ID: <bounce@c>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nUndeliverable\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n\
Status: 5.1.1\r\n--b--\r\n";
    let list = b"From: news@lists.example\r\nTo: acces@organisme.example\r\nList-Id: <news.lists.example>\r\n\
Message-ID: <list@c>\r\n\r\nNewsletter\r\n";
    drop_in(dir.path(), "1700000001.M1.test", auto);
    drop_in(dir.path(), "1700000002.M1.test", bounce);
    drop_in(dir.path(), "1700000003.M1.test", list);
    drop_in(dir.path(), "1700000004.M1.test", NO_ATTACHMENT);
    let mut d = daemon(dir.path());
    d.tick().await.unwrap();
    // The same message again, with a trace header added on the way.
    let again = [
        b"Received: from relay by mx; Mon, 18 Nov 2024 09:00:00 -0000\r\n".as_slice(),
        NO_ATTACHMENT,
    ]
    .concat();
    drop_in(dir.path(), "1700000005.M1.test", &again);
    d.tick().await.unwrap();
    drop(d);
    let sent = replies(dir.path());
    assert_eq!(
        sent.len(),
        1,
        "only the real message is answered, once: {sent:?}"
    );
    assert_eq!(sent[0].1, "<crash-1@clinique.example>");
    assert!(std::fs::read_dir(dir.path().join("inbox/new"))
        .unwrap()
        .next()
        .is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_sender_reply_limit_holds() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..7 {
        let raw = format!(
            "From: same@clinique.example\r\nTo: acces@organisme.example\r\nMessage-ID: <n{i}@c>\r\n\r\nbonjour {i}\r\n"
        );
        drop_in(
            dir.path(),
            &format!("17000000{i:02}.M1.test"),
            raw.as_bytes(),
        );
    }
    let mut d = daemon(dir.path());
    d.tick().await.unwrap();
    drop(d);
    assert_eq!(replies(dir.path()).len(), 5, "default limit: 5 a day");
    assert_eq!(
        store(dir.path())
            .requests(Some(State::Queued))
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_message_is_answered_and_set_aside_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        "From: big@clinique.example\r\nTo: acces@organisme.example\r\nMessage-ID: <big@c>\r\n\r\n{}",
        "x".repeat(4096)
    );
    drop_in(dir.path(), "1700000009.M1.test", big.as_bytes());
    let mut d = daemon(dir.path());
    d.settings.intake.max_message_bytes = 2048;
    d.mailbox = Maildir::open(&d.settings.intake.maildir, 2048).unwrap();
    d.tick().await.unwrap();
    drop(d);
    let sent = replies(dir.path());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].0.as_str(), sent[0].1.as_str()),
        ("rejection", "<big@c>")
    );
    assert!(dir
        .path()
        .join("inbox/.Quarantaine/cur/1700000009.M1.test:2,S")
        .exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn files_from_an_unreadable_sender_are_set_aside_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "From: Jean Dupont\r\n <jean.dupont@\r\nTo: acces@organisme.example\r\n\
                  Message-ID: <broken@c>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                  --b\r\nContent-Type: application/pdf; name=\"da100.pdf\"\r\n\r\n%PDF-1.4 x\r\n--b--\r\n";
    drop_in(dir.path(), "1700000010.M1.test", broken.as_bytes());
    let mut d = daemon(dir.path());
    d.tick().await.unwrap();
    drop(d);
    assert!(replies(dir.path()).is_empty(), "no one to answer");
    assert!(dir
        .path()
        .join("inbox/.Quarantaine/cur/1700000010.M1.test:2,S")
        .exists());
    assert_eq!(store(dir.path()).status().unwrap().messages_processed, 1);
}

/// Issue 15: a message the daemon stopped on while reading it (its "being
/// read" mark still in the store at the next start) is answered without
/// being read again, and set aside.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_the_daemon_stopped_on_is_set_aside_unread_at_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let raw = "From: lea@clinique.example\r\nTo: acces@organisme.example\r\nMessage-ID: <crash@c>\r\n\
               Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf; \
               name=\"DA-100.pdf\"\r\n\r\n%PDF-1.7 not read again\r\n--b--\r\n";
    let fingerprint = guichet::message::parse(raw.as_bytes(), "acces@organisme.example")
        .unwrap()
        .fingerprint;
    drop_in(dir.path(), "1700000010.M1.test", raw.as_bytes());
    {
        let s = store(dir.path());
        // Two starts stopped while reading it (one alone gets a retry).
        for _ in 0..guichet::store::MAX_READS {
            s.begin_reading(&fingerprint).unwrap();
        }
    }
    let mut d = daemon(dir.path());
    d.tick().await.unwrap();
    drop(d);
    let sent = replies(dir.path());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].0.as_str(), sent[0].1.as_str()),
        ("rejection", "<crash@c>")
    );
    assert!(dir
        .path()
        .join("inbox/.Quarantaine/cur/1700000010.M1.test:2,S")
        .exists());
    let s = store(dir.path());
    assert_eq!(s.reads_begun(&fingerprint).unwrap(), 0);
    let requests = s.requests(None).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].reasons,
        [guichet::domain::Reason::UnreadablePdf]
    );
}

/// `guichet check` routes as the daemon does (a staff reply never reaches
/// the applicant pipeline, a message over the size limit is answered
/// `too_large`) and builds the same desk from the settings: the operator's
/// `[desk]` roles are read, and a templates folder that cannot be read
/// stops it as it stops the daemon.
#[test]
fn check_routes_and_builds_its_desk_as_the_daemon_does() {
    let dir = tempfile::tempdir().unwrap();
    let roles = dir.path().join("roles.txt");
    std::fs::write(&roles, "zzqrole\nzzqdesk\n").unwrap();
    let mut s = settings(dir.path());
    s.desk.roles = Some(roles);
    s.intake.max_message_bytes = 2048;
    let desk = Desk::from_settings(&s).unwrap();
    assert_eq!(
        desk.roles.len(),
        guichet::rules::RoleList::builtin().len() + 2
    );

    let staff = b"From: agent@organisme.example\r\nTo: acces+00aa11bb@organisme.example\r\n\
        Message-ID: <s1@organisme.example>\r\nSubject: Re: DA-2024-000001\r\n\r\nAPPROUVER\r\n";
    let big = format!(
        "From: big@clinique.example\r\nTo: acces@organisme.example\r\nMessage-ID: <big@c>\r\n\r\n{}",
        "x".repeat(4096)
    );
    let files = [("staff.eml", &staff[..]), ("big.eml", big.as_bytes())].map(|(name, bytes)| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    });
    let out = guichet::check::run(&s, None, &files).unwrap();
    assert_eq!(
        (out[0]["outcome"].as_str(), out[0]["ignored_as"].as_str()),
        (Some("ignored"), Some("staff-reply")),
        "{}",
        out[0]
    );
    assert_eq!(out[0]["attachments"], serde_json::json!([]));
    assert_eq!(
        out[1]["reasons"],
        serde_json::json!(["too_large"]),
        "{}",
        out[1]
    );
    assert_eq!(out[1]["reply"], "rejection");

    s.desk.templates = Some(dir.path().join("no such folder"));
    let refused = guichet::check::run(&s, None, &files).unwrap_err();
    assert!(
        format!("{refused:#}").contains("desk.templates"),
        "{refused:#}"
    );
}
