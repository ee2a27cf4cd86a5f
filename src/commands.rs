//! The commands of the contract, each a small function over the settings,
//! the store and the pipeline. Output goes to standard out; logs to standard
//! error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::config::Settings;
use crate::domain::State;
use crate::store::Store;

/// How long a command waits for the daemon to let go of the store.
const STORE_PATIENCE: Duration = Duration::from_secs(30);

fn open_store(settings: &Settings) -> Result<Store> {
    Store::open_waiting(&settings.store.path, STORE_PATIENCE)
}

pub fn run(config: Option<&Path>, once: bool) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::daemon::run(settings, once))
}

pub fn check(config: Option<&Path>, files: &[PathBuf], json: bool) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let inputs = crate::check::expand(files)?;
    let store = if settings.store.path.exists() {
        Some(open_store(&settings)?)
    } else {
        None
    };
    let reports = crate::check::run(&settings, store.as_ref(), &inputs)?;
    if json {
        let value = if files.len() == 1 && !files[0].is_dir() && reports.len() == 1 {
            reports.into_iter().next().unwrap_or_default()
        } else {
            serde_json::Value::Array(reports)
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for r in &reports {
            println!("{}", crate::check::summary_line(r));
        }
    }
    Ok(())
}

pub fn queue_list(config: Option<&Path>, state: Option<State>, json: bool) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let requests = store.requests(state)?;
    let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    accessed("queue list", &ids, None);
    if json {
        let list: Vec<_> = requests.iter().map(|r| r.to_json()).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if requests.is_empty() {
        println!("No requests.");
    }
    for r in &requests {
        let reasons: Vec<String> = r.reasons.iter().map(|x| x.to_string()).collect();
        println!(
            "{}  {}  {:<10}  {:<4}  {} {} → {} {}  {}",
            r.id,
            r.received_at.format("%Y-%m-%d %H:%M"),
            r.state.as_str(),
            r.service.as_deref().unwrap_or("-"),
            r.employer.first_name,
            r.employer.last_name,
            r.user.first_name,
            r.user.last_name,
            reasons.join(",")
        );
    }
    Ok(())
}

pub fn queue_show(config: Option<&Path>, id: &str, json: bool) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let Some(r) = store.request(id)? else {
        bail!("no request {id}");
    };
    accessed("queue show", &[r.id.as_str()], None);
    if json {
        let mut value = r.to_json();
        value["fields"] = serde_json::to_value(&r.fields)?;
        value["history"] = serde_json::to_value(&r.history)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{}  ({})", r.id, r.state);
    println!("received   {}", r.received_at.to_rfc3339());
    println!("message    {}  attachment {}", r.message_id, r.attachment);
    println!("service    {}", r.service.as_deref().unwrap_or("-"));
    let reasons: Vec<String> = r.reasons.iter().map(|x| x.to_string()).collect();
    println!(
        "reasons    {}",
        if reasons.is_empty() {
            "-".to_string()
        } else {
            reasons.join(", ")
        }
    );
    println!("fields");
    for (id, f) in &r.fields {
        println!("  {id:<24} {:<40} {:.2}", f.value, f.confidence);
    }
    println!("history");
    for h in &r.history {
        println!(
            "  {}  {:<10} {}",
            h.at.format("%Y-%m-%d %H:%M:%S"),
            h.state.as_str(),
            h.note
        );
    }
    Ok(())
}

pub fn status(config: Option<&Path>, json: bool) -> Result<()> {
    let settings = Settings::load(config)?;
    let store = open_store(&settings)?;
    let status = store.status()?;
    let oldest = store.oldest_pending()?;
    let held = store.documents_held()?;
    let purged = store.purges()?.len();
    let erased = store.erasures()?.len();
    let refused = crate::outbox::drain::paused(&store)?;
    let mailbox_stop = store.mailbox_stop()?;
    if json {
        let mut value = serde_json::to_value(&status)?;
        value["oldest_pending"] = serde_json::to_value(oldest)?;
        value["oldest_pending_age_s"] =
            serde_json::to_value(oldest.map(|t| (chrono::Utc::now() - t).num_seconds()))?;
        value["documents_held"] = held.into();
        value["documents_purged"] = purged.into();
        value["requests_erased"] = erased.into();
        value["retention_days"] = settings.retention.days.into();
        value["mailbox_stopped"] = mailbox_stop.clone().into();
        value["sending_refused"] = match &refused {
            Some(p) => serde_json::json!({ "since": p.since, "why": p.why, "line": p.line() }),
            None => serde_json::Value::Null,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    match status.processing_date {
        Some(d) => {
            println!("processing date    {d} (requests received that day are being handled)")
        }
        None => println!("processing date    - (nothing waiting for staff)"),
    }
    for (state, n) in &status.depth {
        println!("{state:<18} {n}");
    }
    if let Some(t) = oldest {
        println!("oldest pending     {}", t.to_rfc3339());
    }
    println!("outbox pending     {}", status.outbox_pending);
    println!("outbox failed      {}", status.outbox_failed);
    if let Some(p) = &refused {
        println!("outbox             {}", p.line());
    }
    if let Some(stop) = &mailbox_stop {
        println!("mailbox            {stop}");
    }
    println!("messages handled   {}", status.messages_processed);
    println!(
        "documents          {held} held, {purged} purged (after {} days)",
        settings.retention.days
    );
    println!("personal data      erased from {erased} settled request(s)");
    match status.last_poll {
        Some(t) => println!("last poll          {}", t.to_rfc3339()),
        None => println!("last poll          never"),
    }
    Ok(())
}

/// Every request as one JSON object a line, oldest reception first.
pub fn export(config: Option<&Path>) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    store.export(&mut out)?;
    out.flush()?;
    let ids: Vec<String> = store.requests(None)?.into_iter().map(|r| r.id).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    accessed("export", &ids, None);
    Ok(())
}

/// Copies the whole store to one file, while the daemon runs if need be
/// (it waits for the daemon's round to end).
pub fn backup(config: Option<&Path>, path: &Path) -> Result<()> {
    let settings = Settings::load(config)?;
    let store = open_store(&settings)?;
    let entries = store.backup(path)?;
    eprintln!("guichet: {entries} entries written to {}", path.display());
    Ok(())
}

/// Replaces the store's content by a backup's (checked in full first).
pub fn restore(config: Option<&Path>, path: &Path) -> Result<()> {
    let settings = Settings::load(config)?;
    let store = open_store(&settings)?;
    let entries = store.restore(path)?;
    eprintln!(
        "guichet: {entries} entries restored from {}",
        path.display()
    );
    Ok(())
}

pub fn accounts_list(config: Option<&Path>, json: bool) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let accounts = store.accounts()?;
    let ids: Vec<&str> = accounts.iter().map(|a| a.request_id.as_str()).collect();
    accessed("accounts list", &ids, None);
    if json {
        // The hash stays in the store: nothing outside needs it.
        let list: Vec<_> = accounts
            .iter()
            .map(|a| {
                let mut v = crate::staff::signoff::handoff_json(a);
                v["approved_by"] = a.approved_by.clone().into();
                v["active"] = a.active.into();
                v["deactivated"] = serde_json::to_value(&a.deactivated).unwrap_or_default();
                v["handoff"] = serde_json::to_value(&a.handoff).unwrap_or_default();
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if accounts.is_empty() {
        println!("No accounts.");
    }
    for a in &accounts {
        let state = match &a.deactivated {
            Some(d) => format!("deactivated {} ({})", d.at.format("%Y-%m-%d"), d.reason),
            None => "active".to_string(),
        };
        let handoff = match &a.handoff {
            Some(h) => format!(
                "{} {}",
                if h.ok { "handed off" } else { "NOT handed off" },
                h.detail
            ),
            None => "hand-off pending".to_string(),
        };
        println!(
            "{:<20}  {}  {}  {:<4}  {} {} <{}>  {}  {}",
            a.username,
            a.request_id,
            a.created_at.format("%Y-%m-%d %H:%M"),
            a.service.as_deref().unwrap_or("-"),
            a.user.first_name,
            a.user.last_name,
            a.user.email,
            state,
            handoff
        );
    }
    Ok(())
}

pub fn accounts_deactivate(config: Option<&Path>, username: &str, reason: &str) -> Result<()> {
    let reason = reason.trim();
    if reason.is_empty() {
        bail!("--reason must say why");
    }
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let account = store.deactivate(username, reason, chrono::Utc::now())?;
    tracing::info!(request = %account.request_id, "account deactivated");
    println!("{} deactivated", account.username);
    Ok(())
}

/// Queues today's staff digest in the store's outbox, unless one went out
/// today already; the running daemon sends it with its next round. Meant
/// for a timer: it ignores `staff.digest_hour`, the timer says when.
pub fn digest(config: Option<&Path>) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    // The operator's templates, as the daemon's digest uses them.
    let (templates, _) = crate::pipeline::equipment(&settings)?;
    let queued = crate::daemon::housekeeping::send_digest(
        &store,
        &settings,
        &templates,
        None,
        chrono::Utc::now(),
    )?;
    println!("{queued} digest message(s) queued");
    Ok(())
}

/// Who runs a command: the numeric user id, and the login name when the
/// environment gives one (`sudo` keeps the caller's in `SUDO_USER`).
fn operator() -> (u32, String) {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let name = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default();
    (uid, name)
}

/// The access log: a command showed personal data. One line, target
/// `guichet::access`, with who and which requests (never the data), in
/// the journal even when the command's own log goes to a terminal.
fn accessed(command: &str, requests: &[&str], address_sha256: Option<&str>) {
    let (uid, user) = operator();
    let line = || {
        tracing::info!(
            target: "guichet::access",
            uid,
            user = %user,
            command,
            count = requests.len(),
            requests = %requests.join(","),
            person = address_sha256.unwrap_or(""),
            "personal data shown"
        )
    };
    line();
    if !crate::logging::stderr_is_journal() {
        if let Ok(journal) = tracing_journald::layer() {
            use tracing_subscriber::layer::SubscriberExt;
            let journal = journal.with_field_prefix(Some("GUICHET".to_string()));
            let subscriber = tracing_subscriber::registry().with(journal);
            tracing::subscriber::with_default(subscriber, line);
        }
    }
}

/// Applies `[retention]` now: erases what is due, removes the kept e-mails
/// from the mailbox, and rewrites the store so nothing erased stays on disk.
pub fn purge(config: Option<&Path>) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let days = settings.retention.days;
    let done = store.retention(chrono::Utc::now(), days)?;
    let removed = kept_mail(&settings, &store)?;
    tracing::info!(
        erased = %done.erased.join(","),
        documents = done.documents,
        accounts = done.accounts,
        mail = removed,
        waiting = done.waiting,
        "retention applied (guichet purge)"
    );
    if done.removed_anything() {
        store.rewrite(&settings.store.path)?;
    }
    println!(
        "{} request(s) erased ({days} days after their final decision), {} document(s), \
{} account(s) reduced, {} token(s), {} refused repl(ies), {} counter(s), \
{removed} kept e-mail(s) removed; {} request(s) still waiting, untouched",
        done.erased.len(),
        done.documents,
        done.accounts,
        done.tokens,
        done.failed,
        done.counters,
        done.waiting
    );
    Ok(())
}

/// Removes the kept e-mails queued for removal, with the configured mailbox.
fn kept_mail(settings: &Settings, store: &Store) -> Result<usize> {
    if store.mail_to_forget()?.is_empty() {
        return Ok(0);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        use crate::intake::Mailbox;
        let position = crate::intake::imap::MemoryCursor::default();
        let tokens = crate::oauth2::TokenSource::from_settings(settings)?;
        let mut mailbox = crate::intake::Configured::from_settings(settings, &position, tokens)?;
        let removed = crate::daemon::housekeeping::forget_kept_mail(store, &mut mailbox).await;
        if let Err(e) = mailbox.logout().await {
            tracing::warn!(error = format!("{e:#}"), "mailbox logout failed");
        }
        removed
    })
}

/// Prints as JSON everything held about the person with this address.
pub fn person_export(config: Option<&Path>, address: &str) -> Result<()> {
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let value = store.person(address)?;
    let ids: Vec<&str> = value["requests"]
        .as_array()
        .map(|list| list.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    let hash = crate::store::digest(&address.trim().to_lowercase());
    accessed("person export", &ids, Some(&hash));
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Erases now everything held about the person with this address, unless
/// a request of theirs still waits; records what, when and why.
pub fn person_forget(config: Option<&Path>, address: &str, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        bail!("--reason must say why");
    }
    if address.trim().is_empty() {
        bail!("an address is required");
    }
    let settings = Settings::load(config)?;
    crate::logging::init(&settings.log.format);
    let store = open_store(&settings)?;
    let now = chrono::Utc::now();
    let record = store.forget_person(address, reason, now, settings.retention.days)?;
    let removed = kept_mail(&settings, &store)?;
    tracing::info!(
        person = %record.address_sha256,
        requests = %record.requests.join(","),
        accounts = record.accounts.len(),
        mail = removed,
        "person forgotten on request"
    );
    store.rewrite(&settings.store.path)?;
    println!(
        "erased: {} request(s) {}, {} account(s), {} repl(ies) not yet sent or refused, \
{} counter(s), {removed} kept e-mail(s); recorded as {} at {}",
        record.requests.len(),
        record.requests.join(" "),
        record.accounts.len(),
        record.outgoing,
        record.counters,
        record.address_sha256,
        record.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(())
}
