//! Which staff member gets each waiting request: oldest request first, to
//! the least-loaded member with room, so work spreads over the staff list
//! and no one holds more than the configured number of open requests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A request that waits for an approval request to be sent (in `queued` or
/// `review`, with no live token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting<'a> {
    pub request_id: &'a str,
    pub received_at: DateTime<Utc>,
}

/// Send the approval request for `request_id` to `staff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub request_id: String,
    pub staff: String,
}

/// Assigns waiting requests, oldest `received_at` first (request id breaks
/// ties), each to the member with the fewest open requests, earlier in
/// `staff` on a tie, as long as someone has fewer than `max_per_member`.
/// `outstanding` gives each member's open requests; members absent from it
/// have none, and staff addresses are compared without case. Requests no
/// one has room for are left for a later round. Deterministic: the same
/// inputs give the same assignments.
pub fn assign(
    staff: &[String],
    outstanding: &BTreeMap<String, usize>,
    max_per_member: usize,
    waiting: &[Waiting],
) -> Vec<Assignment> {
    let open = |member: &str| {
        outstanding
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(member))
            .map(|(_, n)| n)
            .sum::<usize>()
    };
    let mut load: Vec<(&str, usize)> = Vec::new();
    for member in staff.iter().map(|m| m.trim()) {
        if !member.is_empty() && !load.iter().any(|(m, _)| m.eq_ignore_ascii_case(member)) {
            load.push((member, open(member)));
        }
    }
    let mut queue: Vec<&Waiting> = waiting.iter().collect();
    queue.sort_by(|a, b| (a.received_at, a.request_id).cmp(&(b.received_at, b.request_id)));
    let mut out = Vec::new();
    for request in queue {
        // `min_by_key` keeps the first of equal loads: staff-list order.
        let Some(slot) = load
            .iter_mut()
            .filter(|(_, n)| *n < max_per_member)
            .min_by_key(|(_, n)| *n)
        else {
            break;
        };
        slot.1 += 1;
        out.push(Assignment {
            request_id: request.request_id.to_string(),
            staff: slot.0.to_string(),
        });
    }
    out
}
