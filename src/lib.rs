//! guichet: an e-mail intake desk for DA-100 delegation requests.
//!
//! The crate is split into a functional core (parse, read, decide, compose)
//! that works on bytes and values, and a thin shell (mailboxes, transports,
//! the store, the clock) behind small traits. `ARCHITECTURE.md` has the map.

pub mod address;
pub mod check;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod fold;
pub mod intake;
pub mod logging;
pub mod message;
pub mod net;
pub mod oauth2;
pub mod ops;
pub mod outbox;
pub mod pipeline;
pub mod reader;
pub mod reply;
pub mod rules;
pub mod signoff;
pub mod staff;
pub mod store;
