//! The form reader on files: real PDFs the project generates and the
//! shared corpus, read by the real tesseract. One test binary (fewer links
//! to build); each module is one theme.

mod common;
mod files;
mod scans;
