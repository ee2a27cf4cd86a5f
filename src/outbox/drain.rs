//! Sends what the store's outbox holds. A reply leaves the outbox only once
//! a transport accepted it; a recipient refused for good moves it to
//! `failed`; a failure of the server or the sign-in pauses sending as a
//! whole (see `pause`), with every reply left pending.

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};

use super::pause::Paused;
use super::{SendError, Transport};
use crate::ops::metrics::Metrics;
use crate::store::Store;

/// The store's `meta` key of the pause (JSON of `Option<Paused>`).
const PAUSE_KEY: &str = "outbox_paused";

/// The pause in force, if sending is refused.
pub fn paused(store: &Store) -> Result<Option<Paused>> {
    Ok(match store.meta_get(PAUSE_KEY)? {
        Some(v) => serde_json::from_slice(&v)?,
        None => None,
    })
}

fn set_paused(store: &Store, pause: Option<&Paused>) -> Result<()> {
    store.meta_set(PAUSE_KEY, &serde_json::to_vec(&pause)?)
}

/// When the loop should next try to send: the pause's next attempt while
/// paused, else the earliest reply due.
pub fn next_send(store: &Store) -> Result<Option<DateTime<Utc>>> {
    let next = store.next_send_at()?;
    Ok(match paused(store)? {
        Some(p) => next.map(|n| n.max(p.retry_at)),
        None => next,
    })
}

/// Sends what is due at `now`; returns how many went. While paused, only
/// once the pause's attempt is due; the first failure of the server or the
/// sign-in stops the round and pauses (or prolongs the pause), logged once;
/// the first success after a pause ends it, logged once.
pub async fn drain<T: Transport>(
    store: &Store,
    transport: &T,
    now: DateTime<Utc>,
    first_retry_s: i64,
    metrics: &Metrics,
) -> Result<usize> {
    let mut pause = paused(store)?;
    metrics.sending_refused(pause.as_ref().map(|p| (p.since, p.kind())));
    if pause.as_ref().is_some_and(|p| !p.due(now)) {
        return Ok(0);
    }
    let mut sent = 0;
    // One message in memory at a time, however long the outbox.
    let mut after = None;
    while let Some((seq, queued)) = store.next_due_outgoing(after, now)? {
        after = Some(seq);
        match transport.send(&queued.mail).await {
            Ok(()) => {
                store.sent(seq)?;
                metrics.sent(1);
                sent += 1;
                if let Some(p) = pause.take() {
                    set_paused(store, None)?;
                    metrics.sending_refused(None);
                    let refused_s = (Utc::now() - p.since).num_seconds();
                    info!(
                        since = %p.since.to_rfc3339(),
                        refused_s,
                        attempts = p.attempts,
                        "sending works again; the waiting replies go out"
                    );
                }
            }
            Err(SendError::Server(why)) => {
                let next = Paused::after_failure(pause.clone(), &why, now, first_retry_s);
                let retry_in_s = (next.retry_at - now).num_seconds();
                match &pause {
                    None => warn!(
                        why = %next.why,
                        waiting = store.status()?.outbox_pending,
                        retry_in_s,
                        "sending refused; every reply stays in the outbox until the server takes them"
                    ),
                    Some(_) => {
                        debug!(why = %next.why, attempts = next.attempts, retry_in_s, "sending still refused")
                    }
                }
                metrics.send_retry();
                metrics.sending_refused(Some((next.since, next.kind())));
                set_paused(store, Some(&next))?;
                return Ok(sent);
            }
            Err(SendError::Permanent(e)) => {
                let e = super::pause::mask_addresses(&e);
                error!(outgoing = %queued.mail.id, error = %e, "send refused for good");
                metrics.send_refused();
                store.give_up(seq, queued, &e)?;
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Outgoing;
    use std::sync::Mutex;

    /// A transport that answers from a script, one answer per call.
    struct Scripted(Mutex<Vec<Result<(), SendError>>>, Mutex<Vec<String>>);

    impl Transport for Scripted {
        async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
            self.1.lock().unwrap().push(mail.id.clone());
            self.0.lock().unwrap().remove(0)
        }
    }

    fn queue(store: &Store, n: usize) {
        let outgoing = (0..n)
            .map(|i| Outgoing {
                id: format!("r{i}"),
                envelope_from: "acces@organisme.example".into(),
                to: vec![format!("a{i}@clinique.example")],
                raw: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            })
            .collect();
        store
            .commit(&crate::store::Commit {
                outgoing,
                ..Default::default()
            })
            .unwrap();
    }

    #[tokio::test]
    async fn a_refused_login_pauses_everything_and_nothing_is_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        queue(&store, 3);
        let metrics = Metrics::default();
        let now = Utc::now();
        let login = || {
            Err(SendError::Server(
                "authentication: 535 5.7.8 Error: authentication failed".into(),
            ))
        };
        let t = Scripted(Mutex::new(vec![login()]), Mutex::default());
        assert_eq!(drain(&store, &t, now, 30, &metrics).await.unwrap(), 0);
        assert_eq!(
            t.1.lock().unwrap().len(),
            1,
            "one attempt, not one per reply"
        );
        let status = store.status().unwrap();
        assert_eq!((status.outbox_pending, status.outbox_failed), (3, 0));
        let p = paused(&store).unwrap().expect("paused");
        assert!(
            p.line().starts_with("sending refused since "),
            "{}",
            p.line()
        );
        assert!(p
            .line()
            .ends_with("authentication: 535 5.7.8 Error: authentication failed"));
        assert_eq!(next_send(&store).unwrap(), Some(p.retry_at));
        assert!(metrics
            .render(Utc::now())
            .contains("guichet_sending_refused 1"));

        // Before the retry time nothing is tried.
        let t = Scripted(Mutex::new(vec![]), Mutex::default());
        assert_eq!(drain(&store, &t, now, 30, &metrics).await.unwrap(), 0);
        assert!(t.1.lock().unwrap().is_empty());

        // Still refused: the same pause, a longer wait.
        let later = p.retry_at;
        let t = Scripted(Mutex::new(vec![login()]), Mutex::default());
        drain(&store, &t, later, 30, &metrics).await.unwrap();
        let p2 = paused(&store).unwrap().unwrap();
        assert_eq!((p2.since, p2.attempts), (p.since, 2));

        // Accepted again: all go, once each; one recipient refused for good.
        let t = Scripted(
            Mutex::new(vec![
                Ok(()),
                Err(SendError::Permanent(
                    "550 5.1.1 <a1@clinique.example>: unknown".into(),
                )),
                Ok(()),
            ]),
            Mutex::default(),
        );
        assert_eq!(
            drain(&store, &t, p2.retry_at, 30, &metrics).await.unwrap(),
            2
        );
        assert_eq!(*t.1.lock().unwrap(), ["r0", "r1", "r2"]);
        assert!(paused(&store).unwrap().is_none());
        let status = store.status().unwrap();
        assert_eq!((status.outbox_pending, status.outbox_failed), (0, 1));
        let failed = store.failed_outgoing().unwrap();
        assert!(!failed[0].last_error.as_deref().unwrap().contains('@'));
        assert!(metrics
            .render(Utc::now())
            .contains("guichet_sending_refused 0"));
    }
}
