//! What operators need around the desk: signals, the service manager's
//! notifications, metrics and their endpoint, the daemon's daily chores.
//!
//! None of it decides anything about a submission; the daemon calls it at
//! the edges of its loop.

pub mod desk;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod signals;

use std::sync::Arc;

pub use metrics::Metrics;
pub use signals::Signals;

/// What one round of work reports to and hears from the operator's side:
/// counters to update, and whether the service is stopping (so that the
/// round ends after the message in hand).
#[derive(Clone, Default)]
pub struct Hooks {
    pub metrics: Arc<Metrics>,
    pub signals: Signals,
    /// The IMAP position the intake moves; the daemon's store persists it.
    pub position: Option<crate::intake::imap::MemoryCursor>,
}

impl Hooks {
    /// The loop is alive: tells the service manager's watchdog.
    pub fn alive(&self) {
        notify::watchdog();
    }

    pub fn stopping(&self) -> bool {
        self.signals.stop_requested()
    }
}
