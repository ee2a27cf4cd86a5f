//! The form reader on files: real PDFs the project generates (its corpus
//! generator and Debian's tools), read by the real tesseract. One test binary (fewer links
//! to build); each module is one theme.

mod common;
#[path = "../support/corpus.rs"]
mod corpus;
mod files;
mod photos;
mod scans;
