//! The desk's editable equipment, read from the operator's files: at start
//! and again on SIGHUP, without a restart.

use std::sync::Arc;

use anyhow::{Context, Result};

use super::metrics::TimedReader;
use super::Metrics;
use crate::config::Settings;
use crate::pipeline::Desk;
use crate::reply::Templates;
use crate::rules::RoleList;

/// Puts the operator's templates and role list (when the settings name
/// them) into the desk. Everything is read before anything is replaced, so
/// a bad file leaves the desk as it was.
pub fn refit(desk: &mut Desk, settings: &Settings) -> Result<()> {
    let templates = match &settings.desk.templates {
        Some(dir) => Templates::load(dir).context("desk.templates")?,
        None => Templates::builtin(),
    };
    let mut roles = RoleList::builtin();
    if let Some(path) = &settings.desk.roles {
        let extra = RoleList::load(path)
            .with_context(|| format!("desk.roles: cannot read {}", path.display()))?;
        roles.extend(extra);
    }
    desk.templates = templates;
    desk.roles = roles;
    Ok(())
}

/// Makes the desk's form reader report each reading's time.
pub fn time_reader(desk: Desk, metrics: Arc<Metrics>) -> Desk {
    Desk {
        reader: Box::new(TimedReader::new(desk.reader, metrics)),
        ..desk
    }
}
