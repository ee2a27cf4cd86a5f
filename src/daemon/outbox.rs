//! The daemon's outbox step: what the store holds due at `now` goes through
//! the transport (`outbox::drain`: one message in memory at a time, a
//! failure of the server or the sign-in pausing the whole outbox), and
//! when the loop should wake to send again.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::ops::Metrics;
use crate::outbox::{drain, Transport};
use crate::store::Store;

/// Sends what is due at `now`; returns how many went.
pub async fn send_due<T: Transport>(
    store: &Store,
    transport: &T,
    settings: &Settings,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<usize> {
    let first_retry = i64::from(settings.outbox.retry_first_s);
    drain::drain(store, transport, now, first_retry, metrics).await
}

/// When the earliest reply left in the outbox is due (the pause's next
/// attempt while sending is refused).
pub fn next_send(store: &Store) -> Result<Option<DateTime<Utc>>> {
    drain::next_send(store)
}
