//! The service manager's notifications (`Type=notify`, `WatchdogSec=`).
//!
//! Each call is a no-op outside systemd (no `NOTIFY_SOCKET`); a failure to
//! notify is logged, never fatal: the desk's work matters more than its
//! reports about it.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "service manager notification failed");
    }
}

/// The store is open and the mailbox reached: the desk is up.
pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("taking mail")]);
}

/// The loop is alive. Sent only from the loop itself, never from a timer,
/// so that a stuck loop is restarted.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// Re-reading templates and the role list (SIGHUP).
pub fn reloading() {
    send(&[NotifyState::Reloading]);
}

/// Reload over (successful or not: the old files stay in use on failure).
pub fn reloaded() {
    send(&[NotifyState::Ready]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The watchdog's period, when the unit asks for one.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}
