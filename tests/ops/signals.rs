//! The daemon as systemd runs it: the built binary, signals from outside.
//! SIGTERM ends the round after the message in hand and exits 0 within
//! 10 s with a consistent store; SIGHUP re-reads templates and role list;
//! backup and export work beside the running daemon.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guichet::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_guichet");

/// A message with no attachment from sender `i`: each gets its own reply
/// (the per-sender limit never applies).
fn plain_message(i: usize) -> String {
    format!(
        "From: Personne {i} <p{i}@clinique.example>\r\nTo: acces@organisme.example\r\n\
Subject: demande {i}\r\nMessage-ID: <ops-{i}@clinique.example>\r\n\r\nBonjour, voici ma demande {i}.\r\n"
    )
}

fn drop_in(inbox: &Path, i: usize) {
    let new = inbox.join("new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(
        new.join(format!("{}.M{i}.ops", 1_700_000_000 + i)),
        plain_message(i),
    )
    .unwrap();
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child to exit, at most `limit`; returns its status and how long it took.
fn exit_within(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn guichet(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM");
    c
}

fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn sigterm_finishes_the_message_in_hand_and_exits_0_within_10_s() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("var/inbox");
    let total = 400;
    for i in 0..total {
        drop_in(&inbox, i);
    }
    let log = dir.path().join("stderr.log");
    let mut child = guichet(dir.path(), &["run"])
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Mid-round: some messages handled, most still waiting.
    wait_for("the first messages", Duration::from_secs(60), || {
        count(&inbox.join("cur")) >= 5
    });
    let sent_at = Instant::now();
    signal(&child, "TERM");
    let (status, _) = exit_within(&mut child, Duration::from_secs(10));
    let took = sent_at.elapsed();
    assert!(status.success(), "exit status {status:?}");

    let settled = count(&inbox.join("cur"));
    let waiting = count(&inbox.join("new"));
    eprintln!("exited {status:?} {took:?} after SIGTERM: {settled} settled, {waiting} waiting");
    assert_eq!(settled + waiting, total, "no message lost");
    assert!(waiting > 0, "the round stopped early: {settled} settled");
    // Consistent: a message left the inbox exactly when its effects were committed.
    let store = Store::open_waiting(
        &dir.path().join("var/db"),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let status = store.status().unwrap();
    assert_eq!(status.messages_processed, settled);
    let replies = status.outbox_pending + count(&dir.path().join("var/outbox"));
    assert_eq!(replies, settled, "one reply per handled message");
    drop(store);
    let logs = log_lines(&log);
    assert!(logs.iter().any(|l| l["message"] == "stopped on signal"));
    assert_eq!(
        logs.iter()
            .filter(|l| l["message"] == "message handled")
            .count(),
        settled
    );

    // The next start takes the rest, nothing twice.
    let ok = guichet(dir.path(), &["run", "--once"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(count(&inbox.join("cur")), total);
    assert_eq!(count(&dir.path().join("var/outbox")), total);
}

/// The text of every text/plain part of a message.
fn plain_text(raw: &[u8]) -> String {
    fn walk(part: &mailparse::ParsedMail, out: &mut String) {
        if part.subparts.is_empty() {
            if part.ctype.mimetype == "text/plain" {
                out.push_str(&part.get_body().unwrap_or_default());
            }
        } else {
            for p in &part.subparts {
                walk(p, out);
            }
        }
    }
    let mut out = String::new();
    walk(&mailparse::parse_mail(raw).unwrap(), &mut out);
    out
}

/// Waits for one more reply in the outbox and returns its text.
fn next_reply(outbox: &Path, seen: &mut Vec<PathBuf>) -> String {
    let mut fresh = None;
    wait_for("a reply", Duration::from_secs(30), || {
        fresh = std::fs::read_dir(outbox).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml") && !seen.contains(p))
        });
        fresh.is_some()
    });
    let path = fresh.unwrap();
    seen.push(path.clone());
    plain_text(&std::fs::read(path).unwrap())
}

fn reload_lines(log: &Path) -> Vec<serde_json::Value> {
    log_lines(log)
        .into_iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.contains("reload")))
        .collect()
}

#[test]
fn sighup_reloads_templates_and_role_list_and_commands_work_beside_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    let roles = dir.path().join("roles.txt");
    std::fs::write(&roles, "").unwrap();
    let config = dir.path().join("g.toml");
    std::fs::write(
        &config,
        format!(
            "[desk]\ntemplates = \"{}\"\nroles = \"{}\"\n",
            templates.display(),
            roles.display()
        ),
    )
    .unwrap();
    let inbox = dir.path().join("var/inbox");
    let outbox = dir.path().join("var/outbox");
    let log = dir.path().join("stderr.log");
    let cfg = config.to_str().unwrap();
    let mut child = guichet(dir.path(), &["--config", cfg, "run"])
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();

    drop_in(&inbox, 1);
    let first = next_reply(&outbox, &mut seen);
    assert!(
        first.contains("ne contenait aucun fichier joint"),
        "{first}"
    );

    std::fs::write(
        templates.join("instructions.fr.txt"),
        "MARQUE-RELUE : envoyez le formulaire.\n\n{{email_criteria}}\n",
    )
    .unwrap();
    std::fs::write(&roles, "zzqrole\nzzqdesk\n").unwrap();
    signal(&child, "HUP");
    wait_for("the reload", Duration::from_secs(30), || {
        reload_lines(&log).len() == 1
    });
    let words = reload_lines(&log)[0]["roles"].as_u64().unwrap();
    drop_in(&inbox, 2);
    let second = next_reply(&outbox, &mut seen);
    assert!(second.contains("MARQUE-RELUE"), "{second}");
    assert!(!second.contains("ne contenait aucun fichier joint"));

    // One more role word; then a broken directory keeps what is in use.
    std::fs::write(&roles, "zzqrole\nzzqdesk\nzzqthird\n").unwrap();
    signal(&child, "HUP");
    wait_for("the second reload", Duration::from_secs(30), || {
        reload_lines(&log).len() == 2
    });
    assert_eq!(reload_lines(&log)[1]["roles"].as_u64().unwrap(), words + 1);
    std::fs::rename(&templates, dir.path().join("moved")).unwrap();
    signal(&child, "HUP");
    wait_for("the failed reload", Duration::from_secs(30), || {
        reload_lines(&log).len() == 3
    });
    assert_eq!(reload_lines(&log)[2]["level"], "ERROR");
    drop_in(&inbox, 3);
    assert!(next_reply(&outbox, &mut seen).contains("MARQUE-RELUE"));

    // Beside the running daemon: backup, export, status.
    let backup = dir.path().join("store.bak");
    let out = guichet(
        dir.path(),
        &["--config", cfg, "backup", backup.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(backup.metadata().unwrap().len() > 0);
    let out = guichet(dir.path(), &["--config", cfg, "export"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let exported: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let status = guichet(dir.path(), &["--config", cfg, "status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let depth: u64 = status["depth"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(exported.len() as u64, depth);
    assert_eq!(status["messages_processed"], 3);
    assert_eq!(status["retention_days"], 90);

    signal(&child, "TERM");
    let (status, _) = exit_within(&mut child, Duration::from_secs(10));
    assert!(status.success());
}
