//! File transport (skeleton).
