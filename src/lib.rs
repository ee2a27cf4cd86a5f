//! guichet: an e-mail intake desk for DA-100 delegation requests.
//!
//! The crate is split into a functional core (parse, read, decide, compose)
//! that works on bytes and values, and a thin shell (mailboxes, transports,
//! the store, the clock) behind small traits. `ARCHITECTURE.md` has the map.

pub mod config;
pub mod domain;
pub mod intake;
pub mod net;
pub mod outbox;
pub mod reader;
