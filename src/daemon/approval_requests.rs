//! The daemon's step that puts waiting requests to staff: ask the store
//! for the requests waiting and the approval requests out, let the pure
//! [`due_assignments`] and [`stale_approvals`] say which go to whom and
//! which records close, render each with its fresh token, and commit the
//! round in one [`SignoffCommit`].

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::Settings;
use crate::domain::Request;
use crate::domain::{Approval, TokenRecord};
use crate::reply::{self, notices, Templates};
use crate::staff::signoff::{due_assignments, stale_approvals, Policy};
use crate::staff::token::Token;
use crate::store::signoff::SignoffCommit;
use crate::store::Store;

/// Sends the approval requests due now, in one commit. Returns how many.
pub fn send(
    store: &Store,
    settings: &Settings,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<usize> {
    let policy = &Policy::from_settings(settings);
    let requests = store.waiting_requests()?;
    let approvals = store.approvals()?;
    let by_id: HashMap<&str, &Request> = requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut commit = SignoffCommit {
        closed: stale_approvals(&requests, &approvals),
        ..Default::default()
    };
    for assignment in due_assignments(policy, &requests, &approvals, now) {
        let Some(request) = by_id.get(assignment.request_id.as_str()) else {
            continue;
        };
        let token = Token::issue();
        let Some(reply_to) = token.reply_address(policy.intake) else {
            anyhow::bail!("intake.address {} cannot carry a token", policy.intake);
        };
        let document = store.document(&request.id)?;
        let reply = notices::approval_request_out(
            templates,
            request,
            document
                .as_ref()
                .map(|d| d.crops.as_slice())
                .unwrap_or_default(),
            document.as_ref().map(|d| d.pdf.as_slice()),
            &assignment.staff,
            &reply_to,
        );
        let mail = match reply::outgoing(&reply, policy.intake, now) {
            Ok((mail, _)) => mail,
            Err(e) => {
                warn!(request = %request.id, staff = %crate::logging::pseudonym(&assignment.staff), error = %crate::logging::scrub(&e.to_string()), "approval request not rendered");
                continue;
            }
        };
        let record = TokenRecord::new(&token, &request.id, &assignment.staff, now, policy.validity);
        info!(request = %request.id, staff = %crate::logging::pseudonym(&assignment.staff), expires = %record.expires_at, "approval request sent");
        commit.opened.push(Approval {
            request_id: request.id.clone(),
            staff: assignment.staff.clone(),
            token_hash: record.hash.clone(),
            sent_at: now,
            expires_at: record.expires_at,
        });
        commit.tokens.push(record);
        commit.outgoing.push(mail);
    }
    let sent = commit.opened.len();
    if sent > 0 || !commit.closed.is_empty() {
        store.commit_signoff(&commit)?;
    }
    Ok(sent)
}
