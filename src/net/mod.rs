//! Network plumbing shared by the mail adapters: TLS client settings, the
//! IMAP byte stream, and the reconnection backoff.

pub mod backoff;
pub mod stream;
pub mod tls;
