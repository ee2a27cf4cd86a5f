//! Metrics after a run over the corpus mail: scraped over HTTP as
//! Prometheus would, and written as a node_exporter textfile.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use guichet::config::Settings;
use guichet::daemon::Daemon;
use guichet::intake::maildir::Maildir;
use guichet::ops::{self, Hooks};
use guichet::outbox::file::FileTransport;
use guichet::pipeline::Desk;
use guichet::store::Store;

/// `name{labels}` → value, from the exposition text.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn sum(samples: &BTreeMap<String, f64>, family: &str) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{family}{{")))
        .map(|(_, v)| v)
        .sum()
}

fn scrape(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_after_a_run_over_the_corpus_counts_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("inbox/new");
    std::fs::create_dir_all(&new).unwrap();
    let corpus = crate::corpus::mail_corpus();
    for m in &corpus {
        std::fs::write(new.join(&m.name), &m.raw).unwrap();
    }
    let messages = corpus.len();
    let env = [
        ("GUICHET__INTAKE__MAILDIR", dir.path().join("inbox")),
        ("GUICHET__OUTBOX__DIR", dir.path().join("outbox")),
        ("GUICHET__STORE__PATH", dir.path().join("db")),
    ]
    .map(|(k, v)| (k.to_string(), v.display().to_string()));
    let settings = Settings::load_with_env(None, env).unwrap();
    let hooks = Hooks::default();
    let desk = ops::desk::time_reader(
        Desk::from_settings(&settings).unwrap(),
        hooks.metrics.clone(),
    );
    let mut daemon = Daemon {
        desk,
        mailbox: Maildir::open(&settings.intake.maildir, settings.intake.max_message_bytes)
            .unwrap(),
        transport: FileTransport::new(&settings.outbox.dir).unwrap(),
        settings,
    };
    let report = daemon.tick_with(&hooks).await.unwrap();
    assert_eq!(report.handled, messages);

    let addr = ops::http::serve("127.0.0.1:0".parse().unwrap(), hooks.metrics.clone())
        .await
        .unwrap();
    let response = tokio::task::spawn_blocking(move || scrape(addr, "/metrics"))
        .await
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"));
    println!("{body}");
    let s = samples(body);

    let store =
        Store::open_waiting(&dir.path().join("db"), std::time::Duration::from_secs(10)).unwrap();
    let status = store.status().unwrap();
    assert_eq!(
        sum(&s, "guichet_messages_total") as usize,
        messages,
        "every message counted once"
    );
    for (state, n) in &status.depth {
        assert_eq!(
            s[&format!("guichet_requests{{state=\"{state}\"}}")] as usize,
            *n,
            "{state}"
        );
    }
    let sent = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(s["guichet_outbox_sent_total"] as usize, sent);
    assert_eq!(s["guichet_outbox_backlog"] as usize, status.outbox_pending);
    assert_eq!(
        s["guichet_processed_messages"] as usize,
        status.messages_processed
    );
    assert_eq!(s["guichet_mailbox_connected"], 1.0);
    let reads = s["guichet_form_read_seconds_count"];
    assert!(reads > 0.0, "the corpus holds PDFs");
    assert_eq!(s["guichet_form_read_seconds_bucket{le=\"+Inf\"}"], reads);
    // Every request's reasons are counted (message-level ones come on top).
    let request_reasons: usize = store
        .requests(None)
        .unwrap()
        .iter()
        .map(|r| r.reasons.len())
        .sum();
    assert!(sum(&s, "guichet_reasons_total") as usize >= request_reasons);
    let pending_oldest = store.oldest_pending().unwrap();
    assert_eq!(
        s["guichet_oldest_pending_age_seconds"] > 0.0,
        pending_oldest.is_some()
    );

    let other = tokio::task::spawn_blocking(move || scrape(addr, "/"))
        .await
        .unwrap();
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");

    let textfile = dir.path().join("guichet.prom");
    ops::http::write_textfile(&textfile, &hooks.metrics).unwrap();
    let written = samples(&std::fs::read_to_string(&textfile).unwrap());
    assert_eq!(
        written["guichet_outbox_sent_total"],
        s["guichet_outbox_sent_total"]
    );
}
