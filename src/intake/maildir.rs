//! Maildir intake (skeleton).
