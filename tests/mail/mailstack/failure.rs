//! What a failed test leaves to read. CI shows only the tail of a run's
//! output, and the daemons' logs printed on drop would push the panic
//! message out of it; so the message is remembered when the test panics,
//! the logs are cut to their last lines, and the message is said again last.

use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Lines of each log kept in a failure report, unless
/// `MAILSTACK_LOG_LINES` says otherwise (to read whole logs at a desk).
fn kept_lines() -> usize {
    std::env::var("MAILSTACK_LOG_LINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40)
}

/// Installs (once per process) a panic hook that remembers the message of
/// a panic on the thread it happened on, then lets the default hook print it.
pub fn remember_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = format!("{info}");
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(text));
            default(info);
        }));
    });
}

/// The last `kept_lines()` lines of a log, with how many were left out.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let skip = lines.len().saturating_sub(kept_lines());
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("[{skip} earlier lines left out]\n"));
    }
    for line in &lines[skip..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Prints the panic message of this thread again, if there was one.
pub fn repeat_panic() {
    LAST_PANIC.with(|last| {
        if let Some(text) = last.borrow().as_deref() {
            eprintln!("=== the test failed: {text}");
        }
    });
}
