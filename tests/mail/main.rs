//! guichet against a real mail system: Dovecot (IMAP, LMTP) and Postfix on
//! loopback, started per test by `mailstack` in temporary directories.
//! One test binary (fewer links to build); each module is one theme.

mod mailstack;

mod daemon;
mod folders;
mod imap_mailbox;
mod oauth2;
mod smtp_transport;
