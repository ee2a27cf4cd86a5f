//! The IMAP intake against a real Dovecot fed by a real Postfix: fetch,
//! settle into `Traité`/`Quarantaine`, IDLE, polling and COPY fallback,
//! TLS with a private CA, outages and UIDVALIDITY changes.

use std::time::{Duration, Instant};

use crate::mailstack::{mail, MailStack, Options, APPLICANTS, INTAKE, PROCESSED_WIRE};
use guichet::intake::imap::{ImapMailbox, MemoryCursor, MessageKey, Timing, UidMark};
use guichet::intake::{Disposition, Incoming, Mailbox};

const DELIVERY: Duration = Duration::from_secs(15);
const MAX_BYTES: u64 = 1 << 20;

/// Short delays, so that outages are recovered from within a test's time.
fn quick() -> Timing {
    Timing {
        command: Duration::from_secs(5),
        poll: Duration::from_millis(300),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        ..Timing::default()
    }
}

fn intake(stack: &MailStack, cursor: &MemoryCursor) -> ImapMailbox {
    intake_with(stack, cursor, MAX_BYTES, quick())
}

fn intake_with(
    stack: &MailStack,
    cursor: &MemoryCursor,
    max_bytes: u64,
    timing: Timing,
) -> ImapMailbox {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("guichet=debug")
        .try_init();
    ImapMailbox::with_timing(
        &stack.imap_config(INTAKE),
        max_bytes,
        Box::new(cursor.clone()),
        timing,
    )
    .unwrap()
}

/// Sends `subjects` from applicants to the intake, each once the one
/// before has arrived, so that UID order is sending order.
async fn deliver(stack: &MailStack, subjects: &[&str]) {
    for subject in subjects {
        deliver_burst(stack, &[subject]).await;
    }
}

/// Sends `subjects` in a row (Postfix delivers them in any order) and
/// waits until all have arrived.
async fn deliver_burst(stack: &MailStack, subjects: &[&str]) {
    let before = stack.messages(INTAKE, "INBOX").await.len();
    for (i, subject) in subjects.iter().enumerate() {
        let from = APPLICANTS[i % APPLICANTS.len()];
        let text = mail(from, INTAKE, subject, "Formulaire DA-100 ci-joint.");
        stack.send(from, &[INTAKE], &text).await.unwrap();
    }
    let want = before + subjects.len();
    let got = stack
        .wait_for_messages(INTAKE, "INBOX", want, DELIVERY)
        .await;
    assert_eq!(got.len(), want, "delivered by Postfix to Dovecot");
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn subjects(batch: &[Incoming]) -> Vec<String> {
    batch
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.bytes);
            text.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Waits (IDLE or poll) and takes until `count` different messages came,
/// within `limit` (unsettled messages are handed out again).
async fn fetch_until(mailbox: &mut ImapMailbox, count: usize, limit: Duration) -> Vec<Incoming> {
    let deadline = Instant::now() + limit;
    let mut got: Vec<Incoming> = Vec::new();
    while got.len() < count && Instant::now() < deadline {
        for m in crate::waiting(mailbox).await {
            if !got.iter().any(|g| g.key == m.key) {
                got.push(m);
            }
        }
        if got.len() < count {
            mailbox.wait(Duration::from_millis(500)).await.unwrap();
        }
    }
    got
}

#[tokio::test]
async fn delivered_mail_is_fetched_then_moved_to_traite_or_quarantaine() {
    let stack = MailStack::start();
    deliver(&stack, &["Demande 1", "Demande 2"]).await;
    let cursor = MemoryCursor::default();
    let mut mailbox = intake(&stack, &cursor);

    let batch = crate::waiting(&mut mailbox).await;
    assert_eq!(subjects(&batch), ["Demande 1", "Demande 2"]);
    assert!(batch
        .iter()
        .all(|m| !m.oversized && contains(&m.bytes, "Formulaire DA-100")));
    let uidvalidity = stack.uidvalidity(INTAKE);
    assert_eq!(batch[0].key, format!("{uidvalidity}:1"));

    mailbox
        .settle(&batch[0].key, Disposition::Processed)
        .await
        .unwrap();
    mailbox
        .settle(
            &batch[1].key,
            Disposition::Quarantine("illegible form".into()),
        )
        .await
        .unwrap();

    assert!(stack.messages(INTAKE, "INBOX").await.is_empty());
    let processed = stack.messages(INTAKE, PROCESSED_WIRE).await;
    assert_eq!(processed.len(), 1);
    assert!(contains(&processed[0], "Subject: Demande 1"));
    let quarantined = stack.messages(INTAKE, "Quarantaine").await;
    assert_eq!(quarantined.len(), 1);
    assert!(contains(&quarantined[0], "Subject: Demande 2"));
    let folders = stack.folders(INTAKE).await;
    assert!(folders.iter().any(|f| f == PROCESSED_WIRE), "{folders:?}");

    assert_eq!(
        cursor.get(),
        Some(UidMark {
            uidvalidity,
            last_uid: 2
        })
    );
    assert!(
        crate::waiting(&mut mailbox).await.is_empty(),
        "nothing handed out twice"
    );
}

#[tokio::test]
async fn an_unsettled_message_is_handed_out_again_and_a_restart_resumes_at_the_mark() {
    let stack = MailStack::start();
    deliver(&stack, &["Premier", "Second"]).await;
    let cursor = MemoryCursor::default();
    let mut mailbox = intake(&stack, &cursor);
    let batch = crate::waiting(&mut mailbox).await;
    mailbox
        .settle(&batch[0].key, Disposition::Processed)
        .await
        .unwrap();
    assert_eq!(subjects(&crate::waiting(&mut mailbox).await), ["Second"]);
    mailbox.close().await;

    // A new process with the same store: the unsettled message is still due.
    let mut restarted = intake(&stack, &cursor);
    assert_eq!(subjects(&crate::waiting(&mut restarted).await), ["Second"]);
}

#[tokio::test]
async fn an_oversized_message_comes_with_its_header_only() {
    let stack = MailStack::start();
    let from = APPLICANTS[0];
    let body = "x".repeat(200_000);
    stack
        .send(from, &[INTAKE], &mail(from, INTAKE, "Trop gros", &body))
        .await
        .unwrap();
    stack.wait_for_messages(INTAKE, "INBOX", 1, DELIVERY).await;
    let cursor = MemoryCursor::default();
    let mut mailbox = intake_with(&stack, &cursor, 100_000, quick());
    let batch = crate::waiting(&mut mailbox).await;
    assert_eq!(batch.len(), 1);
    assert!(batch[0].oversized);
    assert!(contains(&batch[0].bytes, "Subject: Trop gros"));
    assert!(contains(&batch[0].bytes, &format!("From: {from}")));
    assert!(
        batch[0].bytes.len() < 10_000,
        "{} bytes downloaded",
        batch[0].bytes.len()
    );
    mailbox
        .settle(&batch[0].key, Disposition::Quarantine("too large".into()))
        .await
        .unwrap();
    assert_eq!(stack.messages(INTAKE, "Quarantaine").await.len(), 1);
}

#[tokio::test]
async fn idle_wakes_wait_as_soon_as_mail_arrives() {
    let stack = MailStack::start();
    let cursor = MemoryCursor::default();
    let mut mailbox = intake(&stack, &cursor);
    assert!(crate::waiting(&mut mailbox).await.is_empty());
    assert!(mailbox.is_connected());

    let started = Instant::now();
    let send = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let from = APPLICANTS[1];
        stack
            .send(from, &[INTAKE], &mail(from, INTAKE, "Pendant IDLE", "..."))
            .await
            .unwrap();
    };
    let (waited, ()) = tokio::join!(mailbox.wait(Duration::from_secs(30)), send);
    waited.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "IDLE ended after {elapsed:?}, not at the 30 s limit"
    );
    assert!(
        elapsed >= Duration::from_millis(500),
        "IDLE did not end before the mail came ({elapsed:?})"
    );
    assert_eq!(
        subjects(&crate::waiting(&mut mailbox).await),
        ["Pendant IDLE"]
    );
}

#[tokio::test]
async fn without_idle_and_move_it_polls_and_copies() {
    let stack = MailStack::start_with(Options {
        imap_capability: Some("IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE".into()),
        ..Options::default()
    });
    let cursor = MemoryCursor::default();
    let mut mailbox = intake(&stack, &cursor);
    assert!(crate::waiting(&mut mailbox).await.is_empty());

    // A poll returns after the poll interval even with a long limit.
    let started = Instant::now();
    mailbox.wait(Duration::from_secs(30)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "poll took {:?}",
        started.elapsed()
    );

    deliver(&stack, &["Sans IDLE", "Sans MOVE"]).await;
    let batch = fetch_until(&mut mailbox, 2, Duration::from_secs(10)).await;
    assert_eq!(subjects(&batch), ["Sans IDLE", "Sans MOVE"]);
    mailbox
        .settle(&batch[0].key, Disposition::Processed)
        .await
        .unwrap();
    mailbox
        .settle(&batch[1].key, Disposition::Processed)
        .await
        .unwrap();
    assert!(
        stack.messages(INTAKE, "INBOX").await.is_empty(),
        "copied, flagged and expunged"
    );
    assert_eq!(stack.messages(INTAKE, PROCESSED_WIRE).await.len(), 2);
}

#[tokio::test]
async fn implicit_tls_and_starttls_with_a_private_ca() {
    let stack = MailStack::start_with(Options {
        tls: true,
        ..Options::default()
    });
    deliver(&stack, &["Par TLS"]).await;
    let cursor = MemoryCursor::default();

    let cfg = stack.imaps_config(INTAKE);
    let mut implicit =
        ImapMailbox::with_timing(&cfg, MAX_BYTES, Box::new(cursor.clone()), quick()).unwrap();
    assert_eq!(subjects(&crate::waiting(&mut implicit).await), ["Par TLS"]);
    implicit.close().await;

    let starttls_cfg = guichet::config::Imap {
        port: stack.ports.imap,
        tls: guichet::config::Tls::Starttls,
        ..cfg.clone()
    };
    let mut starttls =
        ImapMailbox::with_timing(&starttls_cfg, MAX_BYTES, Box::new(cursor.clone()), quick())
            .unwrap();
    assert_eq!(subjects(&crate::waiting(&mut starttls).await), ["Par TLS"]);

    // The public roots do not know the test CA: no connection, no mail.
    let public = guichet::config::Imap {
        ca_file: None,
        ..cfg.clone()
    };
    // A wrong password: likewise an outage to retry, not a crash.
    let wrong = guichet::config::Imap {
        password: Some("not the password".into()),
        ..cfg
    };
    for refused in [public, wrong] {
        let mut mailbox =
            ImapMailbox::with_timing(&refused, MAX_BYTES, Box::new(cursor.clone()), quick())
                .unwrap();
        assert!(crate::waiting(&mut mailbox).await.is_empty());
        assert!(!mailbox.is_connected());
    }
}

#[tokio::test]
async fn dovecot_restarted_mid_run_nothing_lost_nothing_twice() {
    let mut stack = MailStack::start();
    deliver(&stack, &["Avant"]).await;
    let cursor = MemoryCursor::default();
    let mut mailbox = intake(&stack, &cursor);
    let first = crate::waiting(&mut mailbox).await;
    assert_eq!(subjects(&first), ["Avant"]);

    // Dovecot goes away while the adapter is in IDLE: `wait` returns early.
    let started = Instant::now();
    let stop = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stack.stop_dovecot();
    };
    let (waited, ()) = tokio::join!(mailbox.wait(Duration::from_secs(30)), stop);
    waited.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "wait noticed the outage ({:?})",
        started.elapsed()
    );

    // Settling while down is recorded and the move happens after reconnection.
    mailbox
        .settle(&first[0].key, Disposition::Processed)
        .await
        .unwrap();
    assert!(crate::waiting(&mut mailbox).await.is_empty());
    assert!(!mailbox.is_connected());

    // Sent while Dovecot is down: Postfix keeps it and delivers it later.
    let from = APPLICANTS[2];
    stack
        .send(
            from,
            &[INTAKE],
            &mail(from, INTAKE, "Pendant la panne", "..."),
        )
        .await
        .unwrap();
    stack.start_dovecot();
    // In the INBOX: "Avant" (its move still queued) and the deferred one.
    let inbox = stack.wait_for_messages(INTAKE, "INBOX", 2, DELIVERY).await;
    assert_eq!(inbox.len(), 2, "Postfix delivered what it kept");
    deliver(&stack, &["Apres"]).await;
    let after = fetch_until(&mut mailbox, 2, Duration::from_secs(15)).await;
    let mut got = subjects(&after);
    got.sort();
    assert_eq!(
        got,
        ["Apres", "Pendant la panne"],
        "the new messages once each, the settled one not again"
    );
    assert!(mailbox.is_connected());
    let processed = stack.messages(INTAKE, PROCESSED_WIRE).await;
    assert_eq!(
        processed.len(),
        1,
        "the move queued during the outage was done"
    );
    assert!(contains(&processed[0], "Subject: Avant"));
}

#[tokio::test]
async fn a_new_uidvalidity_makes_it_rescan_the_mailbox() {
    let stack = MailStack::start();
    deliver(&stack, &["Ancien 1", "Ancien 2"]).await;
    let uidvalidity = stack.uidvalidity(INTAKE);
    // As if a previous run had handled both but died before moving them.
    let cursor = MemoryCursor::default();
    guichet::intake::imap::UidCursor::save(
        &cursor,
        UidMark {
            uidvalidity,
            last_uid: 2,
        },
    )
    .unwrap();
    let mut mailbox = intake(&stack, &cursor);
    deliver(&stack, &["En cours"]).await;
    let in_progress = crate::waiting(&mut mailbox).await;
    assert_eq!(
        subjects(&in_progress),
        ["En cours"],
        "below the mark: not handed out"
    );

    let renumbered = uidvalidity.wrapping_add(1000);
    stack.set_uidvalidity(INTAKE, renumbered);
    deliver(&stack, &["Nouveau"]).await;
    let batch = fetch_until(&mut mailbox, 4, Duration::from_secs(15)).await;
    assert_eq!(
        subjects(&batch),
        ["Ancien 1", "Ancien 2", "En cours", "Nouveau"]
    );
    assert_eq!(
        cursor.get(),
        Some(UidMark {
            uidvalidity: renumbered,
            last_uid: 0
        })
    );

    // Settled under the old numbering, where its UID may name another message.
    mailbox
        .settle(&in_progress[0].key, Disposition::Processed)
        .await
        .unwrap();
    assert!(
        stack.messages(INTAKE, PROCESSED_WIRE).await.is_empty(),
        "nothing moved on a stale key"
    );
    for m in &batch {
        mailbox
            .settle(&m.key, Disposition::Processed)
            .await
            .unwrap();
    }
    assert_eq!(
        cursor.get(),
        Some(UidMark {
            uidvalidity: renumbered,
            last_uid: 4
        })
    );
    assert_eq!(stack.messages(INTAKE, PROCESSED_WIRE).await.len(), 4);
}

#[tokio::test]
async fn idle_is_renewed_and_a_burst_comes_one_message_at_a_time() {
    let stack = MailStack::start();
    let cursor = MemoryCursor::default();
    let timing = Timing {
        idle_renewal: Duration::from_secs(1),
        ..quick()
    };
    let mut mailbox = intake_with(&stack, &cursor, MAX_BYTES, timing);
    assert!(crate::waiting(&mut mailbox).await.is_empty());

    // A quiet IDLE is ended (DONE) at the renewal time, well before `max`.
    let started = Instant::now();
    mailbox.wait(Duration::from_secs(30)).await.unwrap();
    let idled = started.elapsed();
    assert!(
        idled >= Duration::from_millis(900) && idled < Duration::from_secs(5),
        "{idled:?}"
    );
    assert!(mailbox.is_connected(), "the session survives the renewal");

    let subjects_sent: Vec<String> = (1..=60).map(|i| format!("Rafale {i}")).collect();
    let refs: Vec<&str> = subjects_sent.iter().map(String::as_str).collect();
    deliver_burst(&stack, &refs).await;
    // One message at a time: the first twenty, each settled in turn.
    let mut first = Vec::new();
    for _ in 0..20 {
        let m = mailbox.next().await.unwrap().expect("a message waits");
        mailbox
            .settle(&m.key, Disposition::Processed)
            .await
            .unwrap();
        first.push(m);
    }
    let started = Instant::now();
    mailbox.wait(Duration::from_secs(30)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no waiting while a backlog remains"
    );
    let second = crate::waiting(&mut mailbox).await;
    let uids: Vec<u32> = first
        .iter()
        .chain(&second)
        .map(|m| m.key.parse::<MessageKey>().unwrap().uid)
        .collect();
    assert!(
        uids.windows(2).all(|w| w[0] < w[1]),
        "in UID order: {uids:?}"
    );
    // Postfix delivers in parallel: arrival order is not sending order.
    let mut all = subjects(&first);
    all.extend(subjects(&second));
    all.sort();
    let mut expected = subjects_sent.clone();
    expected.sort();
    assert_eq!(all, expected, "every message once");
}

#[tokio::test]
async fn a_configuration_file_pointing_at_the_stack_reaches_both_servers() {
    use guichet::outbox::{smtp::SmtpTransport, Outgoing, Transport};
    let stack = MailStack::start();
    deliver(&stack, &["Par la configuration"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("guichet.toml");
    std::fs::write(&file, stack.config_toml()).unwrap();
    let settings = guichet::config::Settings::load_with_env(Some(&file), Vec::new()).unwrap();

    let imap = settings.imap.expect("[imap]");
    let mut mailbox = ImapMailbox::new(
        &imap,
        settings.intake.max_message_bytes,
        Box::new(MemoryCursor::default()),
    )
    .unwrap();
    let batch = crate::waiting(&mut mailbox).await;
    assert_eq!(subjects(&batch), ["Par la configuration"]);
    mailbox
        .settle(&batch[0].key, Disposition::Processed)
        .await
        .unwrap();

    let transport = SmtpTransport::new(&settings.smtp.expect("[smtp]")).unwrap();
    let to = APPLICANTS[0];
    let reply = Outgoing {
        id: "r1".into(),
        envelope_from: INTAKE.into(),
        to: vec![to.into()],
        raw: mail(INTAKE, to, "Re: Par la configuration", "Bien reçu."),
    };
    transport.send(&reply).await.unwrap();
    let got = stack.wait_for_messages(to, "INBOX", 1, DELIVERY).await;
    assert_eq!(got.len(), 1);
    assert!(contains(&got[0], "Subject: Re: Par la configuration"));
}

/// Retention and erasure remove kept copies by Message-ID, from the
/// processed and quarantine folders (flagged `\Deleted`, expunged), with
/// UIDPLUS (UID EXPUNGE) or without (EXPUNGE); the intake then goes on.
#[tokio::test]
async fn kept_copies_are_expunged_by_message_id_and_the_intake_goes_on() {
    let without_uidplus = Options {
        imap_capability: Some("IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE".into()),
        ..Options::default()
    };
    for options in [Options::default(), without_uidplus] {
        let stack = MailStack::start_with(options);
        deliver(&stack, &["Garder", "Oublier", "Écarter"]).await;
        let cursor = MemoryCursor::default();
        let mut mailbox = intake(&stack, &cursor);
        let batch = fetch_until(&mut mailbox, 3, Duration::from_secs(10)).await;
        let ids: Vec<String> = batch
            .iter()
            .map(|m| {
                guichet::message::parse(&m.bytes, INTAKE)
                    .unwrap()
                    .message_id
            })
            .collect();
        for (m, disposition) in batch.iter().zip([
            Disposition::Processed,
            Disposition::Processed,
            Disposition::Quarantine("set aside".into()),
        ]) {
            mailbox.settle(&m.key, disposition).await.unwrap();
        }
        assert_eq!(mailbox.forget(&[]).await.unwrap(), 0);
        let removed = mailbox.forget(&ids[1..]).await.unwrap();
        assert_eq!(removed, 2);
        let processed = stack.messages(INTAKE, PROCESSED_WIRE).await;
        assert_eq!(processed.len(), 1);
        assert!(contains(&processed[0], "Subject: Garder"));
        assert!(stack.messages(INTAKE, "Quarantaine").await.is_empty());
        assert_eq!(mailbox.forget(&ids[1..]).await.unwrap(), 0);

        deliver(&stack, &["Ensuite"]).await;
        let next = fetch_until(&mut mailbox, 1, Duration::from_secs(10)).await;
        assert_eq!(subjects(&next), ["Ensuite"]);
    }
}
