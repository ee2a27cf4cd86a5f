//! SIGTERM/SIGINT (stop after the message in hand) and SIGHUP (reload),
//! turned into flags the daemon's loop looks at when it suits it.
//!
//! The handlers are installed once, at start, so that a signal arriving in
//! the middle of a round is remembered rather than lost or fatal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::Notify;

#[derive(Default)]
struct Flags {
    stop: AtomicBool,
    reload: AtomicBool,
    /// Wakes the loop out of its wait for mail.
    wake: Notify,
}

/// The signals received so far. Cloning shares them.
#[derive(Clone, Default)]
pub struct Signals {
    flags: Arc<Flags>,
}

impl Signals {
    /// Installs the handlers; needs a running tokio runtime.
    pub fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let signals = Signals::default();
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let flags = signals.flags.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = term.recv() => flags.stop.store(true, Ordering::SeqCst),
                    _ = int.recv() => flags.stop.store(true, Ordering::SeqCst),
                    _ = hup.recv() => flags.reload.store(true, Ordering::SeqCst),
                }
                flags.wake.notify_one();
            }
        });
        Ok(signals)
    }

    /// Asks the loop to stop, as SIGTERM does.
    pub fn request_stop(&self) {
        self.flags.stop.store(true, Ordering::SeqCst);
        self.flags.wake.notify_one();
    }

    pub fn stop_requested(&self) -> bool {
        self.flags.stop.load(Ordering::SeqCst)
    }

    /// True once per SIGHUP received (several in a row count once).
    pub fn take_reload(&self) -> bool {
        self.flags.reload.swap(false, Ordering::SeqCst)
    }

    /// Returns when a signal arrives (at once if one came since the last call).
    pub async fn arrived(&self) {
        self.flags.wake.notified().await
    }
}
