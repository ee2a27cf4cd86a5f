//! The form reader: from the bytes of one PDF to a `FormReport`.

use crate::domain::{FormReport, ReadError};

/// Reads DA-100 forms. A trait so that the pipeline can be tested on
/// reports without running OCR.
pub trait FormReader {
    fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError>;
}

/// The reader until the real one lands: it opens nothing and says so.
/// It never invents field values.
pub struct NoReader;

impl FormReader for NoReader {
    fn read(&self, _pdf: &[u8]) -> Result<FormReport, ReadError> {
        Err(ReadError::UnknownForm)
    }
}
