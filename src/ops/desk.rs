//! The desk as operators watch it: its form reader timed for the metrics.
//! (The desk is built from the settings, and refitted on SIGHUP, by
//! `pipeline::Desk::from_settings` and `Desk::refit`.)

use std::sync::Arc;

use super::metrics::TimedReader;
use super::Metrics;
use crate::pipeline::Desk;

/// Makes the desk's form reader report each reading's time.
pub fn time_reader(desk: Desk, metrics: Arc<Metrics>) -> Desk {
    Desk {
        reader: Box::new(TimedReader::new(desk.reader, metrics)),
        ..desk
    }
}
