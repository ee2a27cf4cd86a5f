//! Personal data kept only as long as its purpose (Québec's Loi 25):
//! retention after a final decision, a person's data on request, and the
//! erasure of it.
//!
//! A request is *settled* when approved, refused or rejected, or when a
//! correction was asked and never answered; `days` after that, every copy
//! of its personal data goes: the request keeps its number, dates, states,
//! reasons and service, with SHA-256 digests of what was erased (for the
//! audit); its PDF and crops, tokens, approvals, the replies the server
//! refused, the per-sender counters go; its account keeps only username,
//! service, dates, deactivation and hand-off; the kept e-mails (processed
//! and quarantine folders) are listed in `mail_to_forget` for the mailbox
//! to remove. Waiting requests (queued, review, a correction within `days`)
//! are never touched.
//!
//! Trees added here:
//! - `audit`: purge time (ms) ‖ request id → [`Purge`] (PDF digest and crops);
//! - `erased`: request id → [`Erasure`];
//! - `forgotten`: time (ms) ‖ address digest → [`Forgetting`];
//! - `mail_to_forget`: Message-ID → time queued, until the mailbox removed it;
//! - `mail_queued`: fingerprint → () for handled messages that made no
//!   request, once their kept copy is queued for removal.
//!
//! sled keeps removed values in its log until it reclaims the space: after
//! any erasure the caller rewrites the database ([`Store::rewrite`]).

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;

use super::{
    crop_key, from_json, put_request, request_key, to_json, Processed, Queued, Store, TxResult,
};
use crate::domain::{Account, Approval, TokenRecord};
use crate::domain::{Employer, HistoryEntry, Request, State, User};

const AUDIT_TREE: &str = "audit";
const ERASED_TREE: &str = "erased";
const FORGOTTEN_TREE: &str = "forgotten";
const MAIL_TREE: &str = "mail_to_forget";
const MAIL_QUEUED_TREE: &str = "mail_queued";
/// `meta` key: the last day retention ran.
const RETENTION_LAST: &str = "retention:last";
/// The per-sender reply limit looks back this far; older counters serve nothing.
const COUNTER_WINDOW_HOURS: i64 = 24;

/// What retention removed from one request's documents, kept after the
/// bytes are gone: enough to prove which file was held, nothing of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub request: String,
    pub state: State,
    pub decided_at: DateTime<Utc>,
    pub purged_at: DateTime<Utc>,
    pub pdf_bytes: u64,
    pub pdf_sha256: String,
    pub crops: Vec<String>,
}

/// The record of one request's personal data erased: what, when, why,
/// without the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub request: String,
    pub state: State,
    pub settled_at: DateTime<Utc>,
    pub erased_at: DateTime<Utc>,
    /// `retention after N days`, or the operator's reason for a forget.
    pub why: String,
    /// SHA-256 of the request record as it was (JSON).
    pub record_sha256: String,
    /// Field ids whose values were erased.
    pub fields: Vec<String>,
    /// Kept e-mails queued for removal from the mailbox.
    pub messages: usize,
}

/// The record of a person's data erased on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgetting {
    /// `sha256:` of the lower-cased address: the address itself is gone.
    pub address_sha256: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    pub requests: Vec<String>,
    pub accounts: Vec<String>,
    /// Replies to the address dropped from the outbox and the failed list.
    pub outgoing: usize,
    pub counters: usize,
    pub messages: usize,
}

/// What one retention run did, in numbers and ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub erased: Vec<String>,
    pub documents: usize,
    pub accounts: usize,
    pub tokens: usize,
    pub approvals: usize,
    pub answers: usize,
    pub failed: usize,
    pub counters: usize,
    /// Kept e-mails now waiting to be removed from the mailbox.
    pub mail_queued: usize,
    /// Requests still waiting, untouched.
    pub waiting: usize,
}

impl Retention {
    /// Whether anything was removed (the database is then rewritten).
    pub fn removed_anything(&self) -> bool {
        self.erased.len()
            + self.accounts
            + self.tokens
            + self.approvals
            + self.answers
            + self.failed
            + self.counters
            + self.mail_queued
            > 0
    }
}

/// Why `person forget` did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error(
        "not erased: {} still waiting ({}); decide or refuse it first, then run forget again",
        if .0.len() == 1 { "a request is" } else { "requests are" },
        .0.iter().map(|(id, s)| format!("{id} {s}")).collect::<Vec<_>>().join(", ")
    )]
    Waiting(Vec<(String, State)>),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// `sha256:<hex>` of a text; empty stays empty.
pub fn digest(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// When a request reached its current state: the last history entry in
/// that state, else its reception (a request rejected on arrival).
fn decided_at(r: &Request) -> DateTime<Utc> {
    r.history
        .iter()
        .rev()
        .find(|h| h.state == r.state)
        .map(|h| h.at)
        .unwrap_or(r.received_at)
}

/// When a request's personal data stopped serving a purpose: its final
/// decision, or the correction asked and never answered. `None` while
/// staff have it to decide.
pub fn settled_at(r: &Request) -> Option<DateTime<Utc>> {
    match r.state {
        State::Queued | State::Review => None,
        State::Correction | State::Rejected | State::Approved | State::Refused => {
            Some(decided_at(r))
        }
    }
}

/// Settled more than `days` before `now`.
fn is_due(r: &Request, now: DateTime<Utc>, days: u32) -> bool {
    settled_at(r).is_some_and(|t| t <= now - chrono::Duration::days(i64::from(days)))
}

/// The addresses a request holds, lower-cased.
fn addresses(r: &Request) -> Vec<String> {
    [&r.sender, &r.employer.email, &r.user.email]
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|a| a.trim().to_lowercase())
        .collect()
}

/// Whether the person with `address` is a party to a request (sender,
/// professional, user, or a field's value).
fn concerns(r: &Request, address: &str) -> bool {
    addresses(r).iter().any(|a| a == address)
        || r.fields.values().any(|f| f.value.to_lowercase() == address)
}

/// Whether a request holds anything about `address`: a party, or named in
/// its history (a staff member who decided it).
fn mentions(r: &Request, address: &str) -> bool {
    concerns(r, address)
        || r.history
            .iter()
            .any(|h| h.note.to_lowercase().contains(address))
}

/// The request as it stays: number, dates, states, reasons, service, and
/// digests of the texts that named people.
fn anonymised(r: &Request, now: DateTime<Utc>, why: &str) -> Request {
    let mut history: Vec<HistoryEntry> = r
        .history
        .iter()
        .map(|h| HistoryEntry {
            at: h.at,
            state: h.state,
            note: digest(&h.note),
        })
        .collect();
    history.push(HistoryEntry {
        at: now,
        state: r.state,
        note: format!("personal data erased ({why})"),
    });
    Request {
        id: r.id.clone(),
        received_at: r.received_at,
        state: r.state,
        reasons: r.reasons.clone(),
        service: r.service.clone(),
        message_id: digest(&r.message_id),
        attachment: digest(&r.attachment),
        sender: String::new(),
        employer: Employer::default(),
        user: User::default(),
        fields: BTreeMap::new(),
        history,
    }
}

/// An account reduced to what its management needs.
fn reduced(a: &Account) -> Account {
    Account {
        employer: Employer::default(),
        user: User::default(),
        password_hash: String::new(),
        approved_by: digest(&a.approved_by),
        ..a.clone()
    }
}

fn is_reduced(a: &Account) -> bool {
    a.employer == Employer::default() && a.user == User::default() && a.password_hash.is_empty()
}

/// Removes the entries of `tree` whose record satisfies `doomed`; returns
/// how many.
fn remove_where<T: for<'de> Deserialize<'de>>(
    tree: &sled::Tree,
    doomed: impl Fn(&T) -> bool,
) -> Result<usize> {
    let mut n = 0;
    for item in tree.iter() {
        let (k, v) = item?;
        if doomed(&from_json(&v)?) {
            tree.remove(k)?;
            n += 1;
        }
    }
    Ok(n)
}

impl Store {
    fn tree(&self, name: &str) -> Result<sled::Tree> {
        Ok(self.db.open_tree(name)?)
    }

    /// Applies retention at most once a calendar day (UTC). `None` when it
    /// already ran today.
    pub fn retention_if_due(&self, now: DateTime<Utc>, days: u32) -> Result<Option<Retention>> {
        let today = now.date_naive();
        let last = self
            .meta
            .get(RETENTION_LAST)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<NaiveDate>().ok());
        if last == Some(today) {
            return Ok(None);
        }
        let done = self.retention(now, days)?;
        self.meta
            .insert(RETENTION_LAST, today.to_string().as_bytes())?;
        self.db.flush()?;
        Ok(Some(done))
    }

    /// Erases the personal data of every request settled more than `days`
    /// before `now` (0: every settled request), then sweeps what refers to
    /// erased requests or has outlived its use.
    pub fn retention(&self, now: DateTime<Utc>, days: u32) -> Result<Retention> {
        let erased_tree = self.tree(ERASED_TREE)?;
        let requests = self.requests(None)?;
        let mut report = Retention::default();
        let mut gone_addresses = HashSet::new();
        let messages = self.messages_by_request()?;
        for r in &requests {
            if !is_due(r, now, days) {
                if settled_at(r).is_none() || r.state == State::Correction {
                    report.waiting += 1;
                }
                continue;
            }
            if erased_tree.contains_key(r.id.as_bytes())? {
                continue;
            }
            gone_addresses.extend(addresses(r));
            let why = format!("retention after {days} days");
            let ids = messages.get(&r.id).cloned().unwrap_or_default();
            let (erasure, purge) = self.erase(r, now, &why, &ids)?;
            report.documents += usize::from(purge.is_some());
            report.mail_queued += erasure.messages;
            report.erased.push(r.id.clone());
        }
        let cutoff = now - chrono::Duration::days(i64::from(days));
        self.sweep(now, cutoff, &gone_addresses, &mut report)?;
        report.mail_queued += self.queue_requestless_mail(cutoff)?;
        self.db.flush()?;
        // The erased documents' and swept messages' bytes, zeroed.
        self.sweep_blobs()?;
        Ok(report)
    }

    /// Message-IDs of the handled messages about each request (the
    /// applicant's mails, corrections, staff replies).
    fn messages_by_request(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for item in self.processed.iter() {
            let p: Processed = from_json(&item?.1)?;
            for id in &p.requests {
                let ids = out.entry(id.clone()).or_default();
                if !ids.contains(&p.message_id) {
                    ids.push(p.message_id.clone());
                }
            }
        }
        Ok(out)
    }

    /// Erases one request in one transaction: the record anonymised, its
    /// PDF and crops removed (with an audit record), its approval closed,
    /// its kept e-mails queued for the mailbox, the erasure recorded.
    fn erase(
        &self,
        r: &Request,
        now: DateTime<Utc>,
        why: &str,
        message_ids: &[String],
    ) -> Result<(Erasure, Option<Purge>)> {
        let settled = settled_at(r).unwrap_or(now);
        let mut mail: Vec<String> = message_ids.to_vec();
        if !r.message_id.is_empty() && !mail.contains(&r.message_id) {
            mail.push(r.message_id.clone());
        }
        let erasure = Erasure {
            request: r.id.clone(),
            state: r.state,
            settled_at: settled,
            erased_at: now,
            why: why.to_string(),
            record_sha256: hex::encode(Sha256::digest(to_json(r)?)),
            fields: r.fields.keys().cloned().collect(),
            messages: mail.len(),
        };
        let purge = self.document(&r.id)?.map(|doc| Purge {
            request: r.id.clone(),
            state: r.state,
            decided_at: settled,
            purged_at: now,
            pdf_bytes: doc.pdf.len() as u64,
            pdf_sha256: hex::encode(Sha256::digest(&doc.pdf)),
            crops: doc.crops.iter().map(|c| c.zone.clone()).collect(),
        });
        let updated = anonymised(r, now, why);
        let encoded = (
            request_key(&updated),
            to_json(&updated)?,
            updated.id.clone(),
        );
        let erasure_value = to_json(&erasure)?;
        let mut audit_key = now.timestamp_millis().to_be_bytes().to_vec();
        audit_key.extend_from_slice(r.id.as_bytes());
        let audit_value = purge.as_ref().map(to_json).transpose()?;
        let crop_keys: Vec<Vec<u8>> = purge
            .iter()
            .flat_map(|p| p.crops.iter().map(|z| crop_key(&r.id, z)))
            .collect();
        let stamp = now.to_rfc3339();
        let trees = (
            &self.requests,
            &self.request_keys,
            &self.documents,
            &self.approvals,
            &self.tree(AUDIT_TREE)?,
            &self.tree(ERASED_TREE)?,
            &self.tree(MAIL_TREE)?,
        );
        trees
            .transaction(
                |(requests, keys, docs, approvals, audit, erased, pending)| -> TxResult<()> {
                    // Through the index too: an erased request's addresses
                    // leave its keys with it.
                    put_request(requests, keys, &encoded)?;
                    docs.remove(r.id.as_bytes())?;
                    for k in &crop_keys {
                        docs.remove(k.as_slice())?;
                    }
                    if let Some(v) = &audit_value {
                        audit.insert(audit_key.as_slice(), v.as_slice())?;
                    }
                    approvals.remove(r.id.as_bytes())?;
                    erased.insert(r.id.as_bytes(), erasure_value.as_slice())?;
                    for id in &mail {
                        pending.insert(id.as_bytes(), stamp.as_bytes())?;
                    }
                    Ok(())
                },
            )
            .map_err(super::admin::tx_error)?;
        Ok((erasure, purge))
    }

    /// What refers to erased requests, or has outlived its use, goes:
    /// tokens and approvals of erased requests, their accounts reduced,
    /// reply indexes that resume only erased requests, replies the server
    /// refused before `cutoff`, and per-sender counters past the limit's
    /// window, or before `cutoff` or of erased requests for addresses no
    /// live request holds.
    fn sweep(
        &self,
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
        gone_addresses: &HashSet<String>,
        report: &mut Retention,
    ) -> Result<()> {
        let erased: HashSet<String> = self
            .tree(ERASED_TREE)?
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect::<Result<_>>()?;
        report.tokens += remove_where(&self.tokens, |t: &TokenRecord| {
            erased.contains(&t.request_id)
        })?;
        report.approvals += remove_where(&self.approvals, |a: &Approval| {
            erased.contains(&a.request_id)
        })?;
        for item in self.accounts.iter() {
            let (k, v) = item?;
            let a: Account = from_json(&v)?;
            // An account not yet handed off keeps what the hand-off needs
            // until the next run.
            if erased.contains(&a.request_id) && a.handoff.is_some() && !is_reduced(&a) {
                self.accounts.insert(k, to_json(&reduced(&a))?)?;
                report.accounts += 1;
            }
        }
        report.answers += remove_where(&self.answers, |ids: &Vec<String>| {
            !ids.is_empty() && ids.iter().all(|id| erased.contains(id))
        })?;
        report.failed += remove_where(&self.failed, |q: &Queued| q.next_attempt <= cutoff)?;
        let live: HashSet<String> = self
            .requests(None)?
            .iter()
            .filter(|r| !erased.contains(&r.id))
            .flat_map(addresses)
            .collect();
        let window = (now - chrono::Duration::hours(COUNTER_WINDOW_HOURS)).timestamp_millis();
        for item in self.sent_log.iter() {
            let (k, _) = item?;
            let Some(split) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let sender = String::from_utf8_lossy(&k[..split]).to_lowercase();
            let ms = k[split + 1..]
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            // Within the limit's window a counter of someone with no live
            // request still goes when `days` says so (days = 0).
            let not_live = !live.contains(&sender);
            let only_erased = gone_addresses.contains(&sender) && not_live;
            let past_days = ms <= cutoff.timestamp_millis() && not_live;
            if ms < window || only_erased || past_days {
                self.sent_log.remove(k)?;
                report.counters += 1;
            }
        }
        Ok(())
    }

    /// Handled messages that made no request (no attachment, auto-replies,
    /// staff replies that acted on nothing) are settled when handled: their
    /// kept copies are queued for removal once `cutoff` passed them.
    fn queue_requestless_mail(&self, cutoff: DateTime<Utc>) -> Result<usize> {
        let queued = self.tree(MAIL_QUEUED_TREE)?;
        let pending = self.tree(MAIL_TREE)?;
        let mut n = 0;
        for item in self.processed.iter() {
            let (fingerprint, v) = item?;
            let p: Processed = from_json(&v)?;
            if !p.requests.is_empty() || p.at > cutoff || queued.contains_key(&fingerprint)? {
                continue;
            }
            pending.insert(p.message_id.as_bytes(), p.at.to_rfc3339().as_bytes())?;
            queued.insert(fingerprint, &[])?;
            n += 1;
        }
        Ok(n)
    }

    /// Message-IDs whose kept copies the mailbox must still remove.
    pub fn mail_to_forget(&self) -> Result<Vec<String>> {
        self.tree(MAIL_TREE)?
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// The mailbox removed the kept copies of these messages.
    pub fn mail_forgotten(&self, message_ids: &[String]) -> Result<()> {
        let pending = self.tree(MAIL_TREE)?;
        for id in message_ids {
            pending.remove(id.as_bytes())?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Every record of one of the trees above, in key order.
    fn records<T: for<'de> Deserialize<'de>>(&self, tree: &str) -> Result<Vec<T>> {
        self.tree(tree)?
            .iter()
            .map(|item| from_json(&item?.1))
            .collect()
    }

    /// The audit records of documents purged, oldest first.
    pub fn purges(&self) -> Result<Vec<Purge>> {
        self.records(AUDIT_TREE)
    }

    /// The records of erased requests, by request number.
    pub fn erasures(&self) -> Result<Vec<Erasure>> {
        self.records(ERASED_TREE)
    }

    /// The records of people's data erased on request, oldest first.
    pub fn forgettings(&self) -> Result<Vec<Forgetting>> {
        self.records(FORGOTTEN_TREE)
    }

    /// Everything held about the person with `address`, as JSON: requests
    /// (fields, history, documents held), accounts, replies waiting or
    /// refused, reply counters, the e-mails kept, and past erasures.
    pub fn person(&self, address: &str) -> Result<serde_json::Value> {
        let address = address.trim().to_lowercase();
        let messages = self.messages_by_request()?;
        let mut requests = Vec::new();
        let mut ids = HashSet::new();
        for r in self.requests(None)? {
            if !mentions(&r, &address) {
                continue;
            }
            let mut value = serde_json::to_value(&r)?;
            value["documents_held"] = match self.document(&r.id)? {
                Some(d) => serde_json::json!({
                    "pdf_bytes": d.pdf.len(),
                    "pdf_sha256": hex::encode(Sha256::digest(&d.pdf)),
                    "crops": d.crops.iter().map(|c| c.zone.clone()).collect::<Vec<_>>(),
                }),
                None => serde_json::Value::Null,
            };
            value["messages_kept"] = serde_json::to_value(messages.get(&r.id))?;
            ids.insert(r.id.clone());
            requests.push(value);
        }
        let mut accounts = Vec::new();
        for a in self.accounts()? {
            let mine = ids.contains(&a.request_id)
                || a.employer.email.to_lowercase() == address
                || a.user.email.to_lowercase() == address;
            if mine {
                let mut value = serde_json::to_value(&a)?;
                // The hash says nothing of the person; the password is theirs.
                value["password_hash"] = (!a.password_hash.is_empty())
                    .then_some("argon2id hash held")
                    .into();
                accounts.push(value);
            }
        }
        let mut outgoing = Vec::new();
        for (tree, state) in [(&self.outbox, "waiting"), (&self.failed, "refused")] {
            for item in tree.iter() {
                let q: Queued = from_json(&item?.1)?;
                if q.mail.to.iter().any(|t| t.to_lowercase() == address) {
                    outgoing.push(serde_json::json!({
                        "id": q.mail.id, "state": state, "to": q.mail.to,
                        "bytes": self.outgoing_len(&q)?, "attempts": q.attempts,
                        "last_error": q.last_error,
                    }));
                }
            }
        }
        let sent = self.counters_of(&address)?.len();
        let hash = digest(&address);
        let forgotten: Vec<Forgetting> = self
            .forgettings()?
            .into_iter()
            .filter(|f| f.address_sha256 == hash)
            .collect();
        let erased: Vec<Erasure> = self
            .erasures()?
            .into_iter()
            .filter(|e| ids.contains(&e.request))
            .collect();
        Ok(serde_json::json!({
            "address": address,
            "exported_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "requests": requests,
            "accounts": accounts,
            "outgoing": outgoing,
            "replies_counted_last_24h": sent,
            "erasures": erased,
            "forgotten": forgotten,
        }))
    }

    /// Keys of the per-sender counters of `address`.
    fn counters_of(&self, address: &str) -> Result<Vec<sled::IVec>> {
        let mut out = Vec::new();
        for item in self.sent_log.iter() {
            let (k, _) = item?;
            let sender = k.split(|b| *b == 0).next().unwrap_or_default();
            if String::from_utf8_lossy(sender).to_lowercase() == address {
                out.push(k);
            }
        }
        Ok(out)
    }

    /// Erases now everything held about the person with `address`, unless
    /// one of their requests is still waiting for staff or for a
    /// correction (`days`: how long an unanswered correction waits).
    /// Records what, when and why, with only a digest of the address.
    pub fn forget_person(
        &self,
        address: &str,
        reason: &str,
        now: DateTime<Utc>,
        days: u32,
    ) -> Result<Forgetting, ForgetError> {
        let address = address.trim().to_lowercase();
        let mine: Vec<Request> = self
            .requests(None)?
            .into_iter()
            .filter(|r| concerns(r, &address))
            .collect();
        let waiting: Vec<(String, State)> = mine
            .iter()
            .filter(|r| {
                !is_due(r, now, days) && settled_at(r).is_none_or(|_| r.state == State::Correction)
            })
            .map(|r| (r.id.clone(), r.state))
            .collect();
        if !waiting.is_empty() {
            return Err(ForgetError::Waiting(waiting));
        }
        Ok(self.erase_person(&address, reason, now, days, &mine)?)
    }

    /// `forget_person` once nothing of the person waits.
    fn erase_person(
        &self,
        address: &str,
        reason: &str,
        now: DateTime<Utc>,
        days: u32,
        mine: &[Request],
    ) -> Result<Forgetting> {
        let erased_tree = self.tree(ERASED_TREE)?;
        let messages = self.messages_by_request()?;
        let why = format!("forgotten on request: {}", reason.trim());
        let mut record = Forgetting {
            address_sha256: digest(address),
            at: now,
            reason: reason.trim().to_string(),
            requests: Vec::new(),
            accounts: Vec::new(),
            outgoing: 0,
            counters: 0,
            messages: 0,
        };
        let mut ids = HashSet::new();
        for r in mine {
            ids.insert(r.id.clone());
            record.requests.push(r.id.clone());
            if erased_tree.contains_key(r.id.as_bytes())? {
                continue;
            }
            let message_ids = messages.get(&r.id).cloned().unwrap_or_default();
            let (erasure, _) = self.erase(r, now, &why, &message_ids)?;
            record.messages += erasure.messages;
        }
        for item in self.accounts.iter() {
            let (k, v) = item?;
            let a: Account = from_json(&v)?;
            let mine = ids.contains(&a.request_id)
                || a.employer.email.to_lowercase() == address
                || a.user.email.to_lowercase() == address;
            if mine && !is_reduced(&a) {
                self.accounts.insert(k, to_json(&reduced(&a))?)?;
                record.accounts.push(a.username.clone());
            }
        }
        for tree in [&self.outbox, &self.failed] {
            record.outgoing += remove_where(tree, |q: &Queued| {
                q.mail.to.iter().any(|t| t.to_lowercase() == address)
            })?;
        }
        for k in self.counters_of(address)? {
            self.sent_log.remove(k)?;
            record.counters += 1;
        }
        let mut report = Retention::default();
        let cutoff = now - chrono::Duration::days(i64::from(days));
        self.sweep(now, cutoff, &HashSet::new(), &mut report)?;
        let mut key = now.timestamp_millis().to_be_bytes().to_vec();
        key.extend_from_slice(record.address_sha256.as_bytes());
        self.tree(FORGOTTEN_TREE)?.insert(key, to_json(&record)?)?;
        self.db.flush()?;
        self.sweep_blobs()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldReading;
    use chrono::TimeZone;

    fn request(state: State, decided: DateTime<Utc>) -> Request {
        let received = Utc.with_ymd_and_hms(2024, 11, 18, 8, 0, 0).unwrap();
        Request {
            id: "DA-2024-000001".into(),
            received_at: received,
            state,
            reasons: vec!["illegible:user.email".parse().unwrap()],
            service: Some("FACT".into()),
            message_id: "<m1@clinique.example>".into(),
            attachment: "Tremblay.pdf".into(),
            sender: "Zoe.Tremblay@clinique.example".into(),
            employer: Employer {
                last_name: "Roy".into(),
                first_name: "Anne".into(),
                licence: "104382".into(),
                email: "anne.roy@clinique.example".into(),
            },
            user: User {
                last_name: "Tremblay".into(),
                first_name: "Zoé".into(),
                birth_date: "1980-02-03".into(),
                email: "zoe.tremblay@clinique.example".into(),
            },
            fields: [(
                "user.last_name".to_string(),
                FieldReading {
                    value: "Tremblay".into(),
                    confidence: 0.9,
                },
            )]
            .into(),
            history: vec![
                HistoryEntry {
                    at: received,
                    state: State::Queued,
                    note: "received Tremblay.pdf in <m1@clinique.example>".into(),
                },
                HistoryEntry {
                    at: decided,
                    state,
                    note: "refused by agent@organisme.example: Zoé Tremblay inconnue".into(),
                },
            ],
        }
    }

    #[test]
    fn an_erased_request_keeps_number_dates_states_reasons_service_only() {
        let decided = Utc.with_ymd_and_hms(2024, 11, 20, 8, 0, 0).unwrap();
        let r = request(State::Refused, decided);
        let a = anonymised(&r, decided, "retention after 0 days");
        let text = serde_json::to_string(&a).unwrap().to_lowercase();
        for personal in ["tremblay", "zoé", "roy", "104382", "1980-02-03", "@"] {
            assert!(!text.contains(personal), "{personal} left in {text}");
        }
        assert_eq!((a.id.as_str(), a.state), ("DA-2024-000001", State::Refused));
        assert_eq!(
            (a.received_at, a.reasons.clone()),
            (r.received_at, r.reasons.clone())
        );
        assert_eq!(a.service.as_deref(), Some("FACT"));
        assert_eq!(a.history.len(), 3);
        assert_eq!(a.history[1].note, digest(&r.history[1].note));
        assert_eq!(settled_at(&a), Some(decided), "the dates stay");
    }

    #[test]
    fn settled_means_decided_or_a_correction_left_unanswered() {
        let now = Utc.with_ymd_and_hms(2024, 12, 20, 8, 0, 0).unwrap();
        let decided = now - chrono::Duration::days(10);
        assert!(is_due(&request(State::Approved, decided), now, 10));
        assert!(!is_due(&request(State::Approved, decided), now, 11));
        assert!(is_due(&request(State::Correction, decided), now, 0));
        assert!(!is_due(&request(State::Correction, decided), now, 30));
        assert!(!is_due(&request(State::Queued, decided), now, 0));
        assert!(!is_due(&request(State::Review, decided), now, 0));
        let r = request(State::Rejected, decided);
        assert!(concerns(&r, "zoe.tremblay@clinique.example"));
        assert!(
            !concerns(&r, "agent@organisme.example"),
            "staff decide, not a party"
        );
        assert!(
            mentions(&r, "agent@organisme.example"),
            "named in the history"
        );
        assert!(!concerns(&r, "someone@else.example"));
    }
}
