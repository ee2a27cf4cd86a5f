//! guichet against a real mail system: Dovecot (IMAP, LMTP) and Postfix on
//! loopback, started per test by `mailstack` in temporary directories.
//! One test binary (fewer links to build); each module is one theme.

mod mailstack;

mod daemon;
mod folders;
mod imap_mailbox;
mod oauth2;
mod smtp_transport;

use guichet::intake::imap::ImapMailbox;
use guichet::intake::{Incoming, Mailbox};

/// Everything waiting now, in order: what `next` hands out, one message
/// downloaded at a time, until it has nothing more or hands out again a
/// message that was not settled.
pub async fn waiting(mailbox: &mut ImapMailbox) -> Vec<Incoming> {
    let mut out: Vec<Incoming> = Vec::new();
    while let Some(m) = mailbox.next().await.unwrap() {
        if out.iter().any(|o| o.key == m.key) {
            break;
        }
        out.push(m);
    }
    out
}
