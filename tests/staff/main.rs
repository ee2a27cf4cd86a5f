//! The staff sign-off core, pure code over bytes and values: tokens,
//! sender authentication, reply decisions, assignment, credentials, and
//! hostile input. One test binary; each module is one theme.

mod assign;
mod auth;
mod credentials;
mod fixtures;
mod reply;
mod robustness;
mod sign_off;
mod token;
