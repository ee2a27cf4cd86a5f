//! The daemon on real mail, end to end: the built `guichet run` with
//! `[imap]` and `[smtp]` pointing at a throwaway Dovecot + Postfix.
//! Applicants send through Postfix as a mail client would; guichet takes
//! their mail over IMAP and answers over SMTP; the tests read the answers
//! from the applicants' mailboxes over IMAP and count them per original
//! Message-ID (`In-Reply-To`). Messages carry no form (answered with
//! `instructions`), so that volume, not OCR, is what is measured.
//!
//! Every wait is bounded; each test owns its stack, its store and its
//! daemon, so the tests run in parallel.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mailstack::{mail, MailStack, APPLICANTS, INTAKE, PROCESSED_WIRE};
use futures::StreamExt;
use mailparse::MailHeaderMap;

const BIN: &str = env!("CARGO_BIN_EXE_guichet");

/// Some patience for a loaded machine; every wait below is bounded by it
/// or by less.
const PATIENCE: Duration = Duration::from_secs(90);

/// A running `guichet run` with its own store, configuration and log.
struct Guichet {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Guichet {
    /// Starts the daemon on `stack`; replies the server turns away are
    /// tried again after `retry_first_s`, then twice as long each time.
    fn start(stack: &MailStack, retry_first_s: u32) -> Guichet {
        Self::start_on(&stack.config_toml(), retry_first_s)
    }

    /// Starts the daemon with `mail_sections` (`[imap]`, `[smtp]`…).
    fn start_on(mail_sections: &str, retry_first_s: u32) -> Guichet {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let config = format!(
            "[store]\npath = \"{d}/db\"\n\n[outbox]\ndir = \"{d}/outbox\"\n\
             retry_first_s = {retry_first_s}\n\n[log]\nformat = \"json\"\n\n{mail_sections}"
        );
        std::fs::write(dir.path().join("guichet.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("guichet.log")).unwrap();
        let child = command(dir.path(), &["run"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Guichet {
            dir,
            child: Some(child),
        }
    }

    /// `guichet status --json`, run beside the daemon (or after it).
    fn status(&self) -> serde_json::Value {
        let out = command(self.dir.path(), &["status", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `guichet status` as an operator reads it.
    fn status_text(&self) -> String {
        let out = command(self.dir.path(), &["status"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The log lines (JSON) that carry `message`.
    fn log_lines(&self, message: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("guichet.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["fields"]["message"] == message || l["message"] == message)
            .collect()
    }

    fn logged(&self, message: &str) -> usize {
        self.log_lines(message).len()
    }

    /// Waits for the daemon to end by itself; its exit status.
    fn exited(&mut self, limit: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "guichet still running");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, as systemd stops it; it must exit 0 within 15 s.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("guichet still running 15 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "guichet exited with {status:?}");
    }
}

impl Drop for Guichet {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("guichet.log"));
            eprintln!(
                "--- guichet ---\n{}",
                crate::mailstack::failure::tail(&log.unwrap_or_default())
            );
        }
    }
}

/// `guichet ARGS` with this test's configuration.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .arg("--config")
        .arg(dir.join("guichet.toml"))
        .args(args)
        .env("RUST_LOG", "info,guichet::intake=debug")
        .env_remove("JOURNAL_STREAM");
    c
}

/// One applicant message: who sent it and its Message-ID.
struct Sent {
    from: String,
    message_id: String,
    raw: Vec<u8>,
}

/// Applicant `i`'s message: a sender address of its own (plus-addressed,
/// so it lands in one of the stack's applicant mailboxes), unless `from`
/// is given.
fn applicant_mail(i: usize, from: Option<&str>) -> Sent {
    let from = from.map(str::to_string).unwrap_or_else(|| {
        let (local, domain) = APPLICANTS[i % APPLICANTS.len()].split_once('@').unwrap();
        format!("{local}+{i}@{domain}")
    });
    let raw = mail(
        &from,
        INTAKE,
        &format!("Demande {i}"),
        "Bonjour, je voudrais deleguer l'acces.",
    );
    let message_id = header(&raw, "Message-ID").unwrap();
    Sent {
        from,
        message_id,
        raw,
    }
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let (headers, _) = mailparse::parse_headers(raw).ok()?;
    headers.get_first_value(name).map(|v| v.trim().to_string())
}

/// Sends `mails` through Postfix, `parallel` at a time, as mail clients would.
async fn send_all(stack: &MailStack, mails: &[Sent], parallel: usize) {
    let results: Vec<_> = futures::stream::iter(mails)
        .map(|m| stack.send(&m.from, &[INTAKE], &m.raw))
        .buffer_unordered(parallel)
        .collect()
        .await;
    for r in results {
        r.expect("Postfix accepts applicant mail");
    }
}

/// Guichet's answers in the applicants' mailboxes: for each original
/// Message-ID, the `To` of every reply to it. A reply is one Message-ID:
/// when Dovecot dies in the middle of an LMTP delivery, Postfix delivers
/// that message again (SMTP is at-least-once, and mail clients show the
/// copies as one); guichet answering twice would be two Message-IDs.
async fn replies(stack: &MailStack) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    let mut seen = HashSet::new();
    for user in APPLICANTS {
        for raw in stack.messages(user, "INBOX").await {
            if let Some(id) = header(&raw, "Message-ID") {
                if !seen.insert(id.clone()) {
                    eprintln!("{id} delivered twice by the mail system");
                    continue;
                }
            }
            if let Some(original) = header(&raw, "In-Reply-To") {
                found
                    .entry(original)
                    .or_default()
                    .push(header(&raw, "To").unwrap_or_default());
            }
        }
    }
    found
}

fn total(replies: &HashMap<String, Vec<String>>) -> usize {
    replies.values().map(Vec::len).sum()
}

/// Polls until `ready` holds or `limit` passes; whether it held.
async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut ready: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ready().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until at least `count` replies arrived; the replies then.
async fn wait_for_replies(stack: &MailStack, count: usize) -> HashMap<String, Vec<String>> {
    eventually(PATIENCE, || async { total(&replies(stack).await) >= count }).await;
    replies(stack).await
}

/// How many messages the intake's `Traité` holds (none before guichet
/// created it: the folder is looked for first, as Dovecot's refusal to
/// examine a missing folder names it in UTF-8, which the IMAP client
/// cannot parse).
async fn processed(stack: &MailStack) -> usize {
    if !stack
        .folders(INTAKE)
        .await
        .iter()
        .any(|f| f == PROCESSED_WIRE)
    {
        return 0;
    }
    stack.messages(INTAKE, PROCESSED_WIRE).await.len()
}

/// Waits until the intake INBOX is empty and `Traité` holds `count`.
async fn wait_for_settled(stack: &MailStack, count: usize) {
    let settled = eventually(PATIENCE, || async {
        stack.messages(INTAKE, "INBOX").await.is_empty() && processed(stack).await >= count
    })
    .await;
    let inbox = stack.messages(INTAKE, "INBOX").await.len();
    let processed = processed(stack).await;
    assert!(
        settled,
        "intake: {inbox} still in INBOX, {processed} in Traité (want {count})"
    );
    assert_eq!(processed, count, "Traité holds each message once");
}

/// After the daemon stopped: Postfix has delivered all it took, so the
/// mailboxes show every reply that will ever come.
async fn wait_for_postfix_queue(stack: &MailStack) {
    // Mail deferred while a server was down waits for Postfix's next retry;
    // ask for it now, then give a loaded machine time to deliver.
    stack.flush_postfix_queue();
    let empty = eventually(Duration::from_secs(90), || async {
        stack.postfix_queue().is_ok_and(|q| q.is_empty())
    })
    .await;
    assert!(
        empty,
        "Postfix delivered everything it accepted; left: {:?}",
        stack.postfix_queue()
    );
}

/// Stops guichet and lets Postfix deliver what it still holds; then, if
/// `got` already held the `expected` replies, reads them again so that a
/// late duplicate shows (else `got`, which shows what is missing).
async fn replies_once_stopped(
    stack: &MailStack,
    guichet: &mut Guichet,
    got: HashMap<String, Vec<String>>,
    expected: usize,
) -> HashMap<String, Vec<String>> {
    guichet.stop();
    wait_for_postfix_queue(stack).await;
    if total(&got) == expected {
        replies(stack).await
    } else {
        got
    }
}

/// Each of `mails` was answered exactly once, to its sender.
fn assert_answered_once(replies: &HashMap<String, Vec<String>>, mails: &[Sent]) {
    for m in mails {
        let to = replies.get(&m.message_id).cloned().unwrap_or_default();
        assert_eq!(to.len(), 1, "{} answered {} times", m.message_id, to.len());
        assert!(
            to[0].contains(&m.from),
            "reply to {} went to {to:?}",
            m.from
        );
    }
}

fn outbox(status: &serde_json::Value) -> (u64, u64) {
    (
        status["outbox_pending"].as_u64().unwrap(),
        status["outbox_failed"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_200_is_answered_once_each_and_the_sender_limit_holds() {
    let stack = MailStack::start();
    let mut guichet = Guichet::start(&stack, 30);
    let started = Instant::now();
    // 200 senders of their own, and one sender writing 7 times (limit: 5 a day).
    let burst: Vec<Sent> = (0..200).map(|i| applicant_mail(i, None)).collect();
    let insistent = APPLICANTS[0];
    let repeated: Vec<Sent> = (200..207)
        .map(|i| applicant_mail(i, Some(insistent)))
        .collect();
    send_all(&stack, &repeated, 1).await;
    send_all(&stack, &burst, 10).await;
    let sent_in = started.elapsed();

    let got = wait_for_replies(&stack, 205).await;
    let answered_in = started.elapsed();
    wait_for_settled(&stack, 207).await;
    let got = replies_once_stopped(&stack, &mut guichet, got, 205).await;
    eprintln!(
        "burst: 207 sent in {sent_in:?}, {} replies by {answered_in:?}",
        total(&got)
    );
    assert_answered_once(&got, &burst);
    let limited: Vec<usize> = repeated
        .iter()
        .map(|m| got.get(&m.message_id).map_or(0, Vec::len))
        .collect();
    assert_eq!(
        limited.iter().sum::<usize>(),
        5,
        "one sender, 7 messages, 5 replies: {limited:?}"
    );
    assert!(limited.iter().all(|&n| n <= 1), "{limited:?}");
    assert_eq!(total(&got), 205, "no stray reply");
    assert_eq!(
        guichet.logged("reply limit reached for this sender, no reply"),
        2
    );
    let status = guichet.status();
    assert_eq!(status["messages_processed"], 207);
    assert_eq!(outbox(&status), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn dovecot_stopped_and_restarted_mid_run_loses_nothing_and_repeats_nothing() {
    let mut stack = MailStack::start();
    let mut guichet = Guichet::start(&stack, 30);
    let before: Vec<Sent> = (0..100).map(|i| applicant_mail(i, None)).collect();
    let during: Vec<Sent> = (100..120).map(|i| applicant_mail(i, None)).collect();
    send_all(&stack, &before, 10).await;
    // Mid-run: some handled, the rest on its way.
    let begun = eventually(PATIENCE, || async { processed(&stack).await > 0 }).await;
    assert!(begun, "guichet took the first messages");
    let outage = Instant::now();
    stack.stop_dovecot();
    let handled_before = guichet.status()["messages_processed"].as_u64().unwrap();
    // Postfix keeps what comes meanwhile (and guichet's replies) for later.
    send_all(&stack, &during, 10).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack.start_dovecot();
    let down_for = outage.elapsed();

    let all: Vec<Sent> = before.into_iter().chain(during).collect();
    let got = wait_for_replies(&stack, all.len()).await;
    wait_for_settled(&stack, all.len()).await;
    let recovered_in = outage.elapsed();
    let got = replies_once_stopped(&stack, &mut guichet, got, all.len()).await;
    eprintln!(
        "dovecot: down {down_for:?} with {handled_before} of 100 handled; \
         all 120 answered and settled {recovered_in:?} after the stop"
    );
    assert_answered_once(&got, &all);
    assert_eq!(total(&got), all.len());
    // One outage, one warning (not one per attempt or per way of failing).
    let unavailable = guichet.log_lines("IMAP unavailable; reconnecting with backoff");
    assert_eq!(unavailable.len(), 1, "{unavailable:#?}");
    assert_eq!(guichet.logged("IMAP connection restored"), 1);
    let status = guichet.status();
    assert_eq!(status["messages_processed"], 120);
    assert_eq!(outbox(&status), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn postfix_stopped_replies_wait_in_the_outbox_and_go_out_once_it_returns() {
    let mut stack = MailStack::start();
    // A local relay: the first retry after 1 s, then 2, 4, 8, 16 s.
    let mut guichet = Guichet::start(&stack, 1);
    let first = applicant_mail(0, None);
    send_all(&stack, std::slice::from_ref(&first), 1).await;
    wait_for_replies(&stack, 1).await;

    stack.stop_postfix();
    let outage = Instant::now();
    // Mail still comes in through another MX (straight into the mailbox).
    let during: Vec<Sent> = (1..11).map(|i| applicant_mail(i, None)).collect();
    for m in &during {
        stack.append(INTAKE, "INBOX", &m.raw).await;
    }
    wait_for_settled(&stack, 11).await;
    let waiting = eventually(PATIENCE, || async {
        guichet.status()["sending_refused"]["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("connection: "))
    })
    .await;
    assert!(waiting, "status says sending is refused, and why");
    let status = guichet.status();
    assert_eq!(status["messages_processed"], 11);
    assert_eq!(outbox(&status), (10, 0), "the replies wait in the outbox");
    let remaining = Duration::from_secs(60).saturating_sub(outage.elapsed());
    tokio::time::sleep(remaining).await;
    assert_eq!(
        outbox(&guichet.status()),
        (10, 0),
        "still waiting, none given up"
    );
    assert_eq!(guichet.logged(REFUSED), 1, "the outage is logged once");
    let retries = guichet.status()["sending_refused"].to_string();

    stack.start_postfix();
    let back = Instant::now();
    let got = wait_for_replies(&stack, 11).await;
    let out_in = back.elapsed();
    let got = replies_once_stopped(&stack, &mut guichet, got, 11).await;
    eprintln!(
        "postfix: down {:?}, pause {retries}; replies out {out_in:?} after its return",
        back - outage
    );
    // Woken by the retry's due time, not by the next poll (60 s away).
    assert!(
        out_in < Duration::from_secs(45),
        "replies out {out_in:?} after"
    );
    let all: Vec<Sent> = std::iter::once(first).chain(during).collect();
    assert_answered_once(&got, &all);
    assert_eq!(total(&got), 11);
    assert_eq!(outbox(&guichet.status()), (0, 0));
    assert_eq!(guichet.logged(RESTORED), 1, "the recovery is logged once");
}

/// What the daemon logs, once, when sending stops and when it works again.
const REFUSED: &str =
    "sending refused; every reply stays in the outbox until the server takes them";
const RESTORED: &str = "sending works again; the waiting replies go out";

/// How long the login stays refused (`MAILSTACK_REFUSAL_S`; 20 s unless
/// told, the 10-minute figure is a run with 600).
fn refusal_window() -> Duration {
    Duration::from_secs(
        std::env::var("MAILSTACK_REFUSAL_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_smtp_login_loses_no_reply_and_sends_none_twice_once_it_is_accepted() {
    use crate::mailstack::{password, STAFF};
    let stack = MailStack::start();
    // guichet submits as the staff member; the server changes its password.
    stack.set_password(STAFF, "changed-on-the-server");
    let mut guichet = Guichet::start_on(&stack.config_toml_submitting_as(STAFF), 1);
    let mails: Vec<Sent> = (0..6).map(|i| applicant_mail(i, None)).collect();
    send_all(&stack, &mails, 3).await;
    wait_for_settled(&stack, mails.len()).await;
    let refused = eventually(PATIENCE, || async {
        !guichet.status()["sending_refused"].is_null()
    })
    .await;
    assert!(refused, "status says sending is refused");
    let during = guichet.status();
    let why = during["sending_refused"]["why"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.starts_with("authentication: ") && why.contains("535"),
        "{why}"
    );
    assert!(!why.contains('@'), "no address in the reason: {why}");
    let text = guichet.status_text();
    let line = text
        .lines()
        .find(|l| l.contains("sending refused since "))
        .unwrap_or_else(|| panic!("status text says it: {text}"))
        .to_string();
    let window = refusal_window();
    tokio::time::sleep(window).await;
    let status = guichet.status();
    assert_eq!(outbox(&status), (6, 0), "every reply waits, none given up");
    assert_eq!(guichet.logged(REFUSED), 1, "the refusal is logged once");
    let later_text = guichet.status_text();

    stack.set_password(STAFF, &password(STAFF));
    let back = Instant::now();
    // The next attempt comes at most five minutes after the last one.
    let limit = PATIENCE + Duration::from_secs(300);
    eventually(limit, || async {
        total(&replies(&stack).await) >= mails.len()
    })
    .await;
    let got = replies(&stack).await;
    let out_in = back.elapsed();
    let got = replies_once_stopped(&stack, &mut guichet, got, mails.len()).await;
    assert_answered_once(&got, &mails);
    assert_eq!(total(&got), mails.len(), "nothing lost, nothing twice");
    let after = guichet.status();
    assert_eq!(outbox(&after), (0, 0));
    assert!(after["sending_refused"].is_null(), "{after}");
    assert_eq!(guichet.logged(RESTORED), 1, "the recovery is logged once");
    eprintln!(
        "smtp login refused for {window:?} (shortened window unless MAILSTACK_REFUSAL_S=600)\n\
         during: {line}\n{later_text}after: outbox_pending={} outbox_failed={} sending_refused={}\n\
         replies out {out_in:?} after the login was accepted again",
        after["outbox_pending"], after["outbox_failed"], after["sending_refused"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_uidvalidity_brings_no_duplicate_reply_and_new_mail_is_still_handled() {
    let stack = MailStack::start();
    let mut guichet = Guichet::start(&stack, 30);
    let old: Vec<Sent> = (0..20).map(|i| applicant_mail(i, None)).collect();
    send_all(&stack, &old, 10).await;
    wait_for_replies(&stack, 20).await;
    wait_for_settled(&stack, 20).await;

    // A migration: the mailbox is renumbered, and the messages already
    // handled are back in the INBOX beside new ones.
    let before = stack.uidvalidity(INTAKE);
    stack.set_uidvalidity(INTAKE, before.wrapping_add(1000));
    for raw in stack.messages(INTAKE, PROCESSED_WIRE).await {
        stack.append(INTAKE, "INBOX", &raw).await;
    }
    let new: Vec<Sent> = (20..30).map(|i| applicant_mail(i, None)).collect();
    send_all(&stack, &new, 10).await;

    let got = wait_for_replies(&stack, 30).await;
    // The 20 again, then the 10 new ones: all in Traité, none left over.
    wait_for_settled(&stack, 50).await;
    let got = replies_once_stopped(&stack, &mut guichet, got, 30).await;
    let all: Vec<Sent> = old.into_iter().chain(new).collect();
    assert_answered_once(&got, &all);
    assert_eq!(total(&got), 30, "no duplicate reply");
    assert_eq!(
        guichet.logged("IMAP UIDVALIDITY changed: rescanning the whole mailbox"),
        1
    );
    assert_eq!(guichet.logged("already handled (re-delivery)"), 20);
    let status = guichet.status();
    assert_eq!(status["messages_processed"], 30);
    assert_eq!(outbox(&status), (0, 0));
}

/// The harder renumbering: Dovecot loses the INBOX's index, so new mail is
/// numbered from 1 again, below the mark guichet kept. A desk that trusted
/// its old mark would never see it.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_lost_index_mail_numbered_below_the_old_mark_is_still_handled() {
    let mut stack = MailStack::start();
    let mut guichet = Guichet::start(&stack, 30);
    let old: Vec<Sent> = (0..20).map(|i| applicant_mail(i, None)).collect();
    send_all(&stack, &old, 10).await;
    wait_for_replies(&stack, 20).await;
    wait_for_settled(&stack, 20).await;

    let before = stack.uidvalidity(INTAKE);
    stack.forget_inbox_numbering(INTAKE);
    assert_ne!(stack.uidvalidity(INTAKE), before, "a new UIDVALIDITY");
    let uidnext = stack.doveadm(&[
        "-f", "flow", "mailbox", "status", "-u", INTAKE, "uidnext", "INBOX",
    ]);
    assert!(
        uidnext.trim().ends_with("uidnext=1"),
        "numbering starts again: {uidnext}"
    );
    let new: Vec<Sent> = (20..30).map(|i| applicant_mail(i, None)).collect();
    send_all(&stack, &new, 10).await;

    let got = wait_for_replies(&stack, 30).await;
    wait_for_settled(&stack, 30).await;
    let got = replies_once_stopped(&stack, &mut guichet, got, 30).await;
    let all: Vec<Sent> = old.into_iter().chain(new).collect();
    assert_answered_once(&got, &all);
    assert_eq!(total(&got), 30);
    assert_eq!(
        guichet.logged("IMAP UIDVALIDITY changed: rescanning the whole mailbox"),
        1
    );
    assert_eq!(outbox(&guichet.status()), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn files_from_an_unreadable_sender_are_quarantined_never_answered_never_dropped() {
    let stack = MailStack::start();
    let mut guichet = Guichet::start(&stack, 1);
    // A folded From: whose address was cut off, with a form attached.
    let broken = "From: Jean Dupont\r\n <jean.dupont@\r\nTo: acces@organisme.example\r\n\
                  Subject: Formulaire\r\nMessage-ID: <broken-from@clinique.example>\r\n\
                  Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                  Content-Type: application/pdf; name=\"da100.pdf\"\r\n\r\n%PDF-1.4 x\r\n--b--\r\n";
    stack.append(INTAKE, "INBOX", broken.as_bytes()).await;
    let fine = applicant_mail(0, None);
    send_all(&stack, std::slice::from_ref(&fine), 1).await;
    let quarantined = eventually(PATIENCE, || async {
        stack
            .folders(INTAKE)
            .await
            .iter()
            .any(|f| f == "Quarantaine")
            && stack.messages(INTAKE, "Quarantaine").await.len() == 1
            && stack.messages(INTAKE, "INBOX").await.is_empty()
    })
    .await;
    assert!(
        quarantined,
        "the message waits in Quarantaine for an operator"
    );
    let got = wait_for_replies(&stack, 1).await;
    let got = replies_once_stopped(&stack, &mut guichet, got, 1).await;
    assert_answered_once(&got, std::slice::from_ref(&fine));
    assert_eq!(total(&got), 1, "the unreadable sender got nothing");
    let kept = stack.messages(INTAKE, "Quarantaine").await;
    assert!(String::from_utf8_lossy(&kept[0]).contains("broken-from@clinique.example"));
    assert_eq!(
        guichet.logged("sender unreadable, set aside in quarantine"),
        1
    );
    assert_eq!(outbox(&guichet.status()), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_signs_in_with_oauth_tokens_shorter_than_the_run() {
    use crate::mailstack::token_server::{TokenServer, CLIENT_ID, CLIENT_SECRET};
    use crate::mailstack::{Options, OAUTH_KEY};
    let stack = MailStack::start_with(Options {
        oauth2: true,
        ..Options::default()
    });
    let lifetime = Duration::from_secs(5);
    let server = TokenServer::start(OAUTH_KEY, INTAKE, lifetime);
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().join("oauth2-secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    let sections = format!(
        "[imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nauth = \"oauth2\"\nusername = \"{INTAKE}\"\n\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nauth = \"oauth2\"\nusername = \"{INTAKE}\"\n\n\
         [oauth2]\nmechanism = \"xoauth2\"\ngrant = \"client_credentials\"\ntoken_url = \"{}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{}\"\nscope = \"https://outlook.office365.com/.default\"\n",
        stack.ports.imap,
        stack.ports.submission,
        server.url(),
        secret.display()
    );
    let mut guichet = Guichet::start_on(&sections, 1);
    let started = Instant::now();
    let mails: Vec<Sent> = (0..15).map(|i| applicant_mail(i, None)).collect();
    for (wave, chunk) in mails.chunks(3).enumerate() {
        send_all(&stack, chunk, 3).await;
        if wave == 2 {
            // The server ends the session: guichet signs in again.
            stack.kick(INTAKE);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let got = wait_for_replies(&stack, mails.len()).await;
    let run = started.elapsed();
    let got = replies_once_stopped(&stack, &mut guichet, got, mails.len()).await;
    assert_answered_once(&got, &mails);
    assert_eq!(total(&got), mails.len());
    let counts = server.counts();
    let fetched = guichet.logged("OAuth access token obtained");
    assert!(
        counts.client_credentials >= 4,
        "tokens of {lifetime:?} renewed during a {run:?} run: {counts:?}"
    );
    assert_eq!(fetched, counts.client_credentials as usize);
    assert_eq!(counts.refused, 0);
    assert_eq!(outbox(&guichet.status()), (0, 0));
    eprintln!(
        "OAuth run: {run:?} with tokens of {lifetime:?}: {} token fetches (endpoint count), \
         {fetched} logged by guichet; {} messages answered once each; IMAP session ended once by the server",
        counts.client_credentials,
        mails.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_the_server_refuses_stop_the_daemon_with_a_plain_reason() {
    let stack = MailStack::start();
    // Dovecot refuses a name that would climb out of its mail directory.
    let sections = stack
        .config_toml()
        .replace("[smtp]", "processed_folder = \"~Traité\"\n\n[smtp]");
    let mut guichet = Guichet::start_on(&sections, 1);
    let status = guichet.exited(PATIENCE);
    assert!(!status.success(), "a configuration error is no clean exit");
    let text = guichet.status_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("mailbox "))
        .unwrap_or_else(|| panic!("status names the mailbox's stop: {text}"));
    assert!(
        line.contains("configuration error: the server refuses to create the folder `~Trait&AOk-`"),
        "{line}"
    );
    let logged = guichet.log_lines("IMAP folders unusable: a configuration error (set imap.processed_folder and imap.quarantine_folder to folders this server allows)");
    assert_eq!(logged.len(), 1, "said once, plainly");
    assert!(
        guichet.logged("IMAP unavailable; reconnecting with backoff") == 0,
        "no outage loop"
    );
    eprintln!("refused folders: exit {status}; status: {line}");
}
