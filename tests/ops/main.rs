//! Operating the desk: backup and restore, metrics, retention and privacy, and the
//! built daemon under signals as systemd sends them. One test binary;
//! each module is one theme.

mod backup;
#[path = "../support/corpus.rs"]
mod corpus;
mod crash;
mod metrics;
mod privacy;
mod retention;
mod signals;
