//! The desk's memory, on sled, behind one small API.
//!
//! Trees:
//! - `requests`: key `received_at (ms, big-endian) ‖ id` → `Request` (JSON), so
//!   that a range scan yields requests oldest reception first;
//! - `request_keys`: id → key in `requests`; and, under keys that start
//!   with a zero byte (no id does), the secondary index of `requests`,
//!   written in the same transaction as the request (see [`index_keys`]):
//!   the narrow questions of handling one message are answered from it,
//!   never by reading every request;
//! - `processed`: message fingerprint → what it produced (makes re-reading harmless);
//! - `answers`: Message-ID of a reply we sent → request ids it was about
//!   (a correction that answers it resumes those requests);
//! - `outbox`: sequence → `Queued` (an `Outgoing` with its retry state;
//!   the message bytes in a blob, see [`blobs`]);
//! - `failed`: sequence → messages the server refused for good;
//! - `sent_log`: sender ‖ time → () for the per-sender reply limit;
//! - `documents`: request id → the PDF; request id ‖ 0 ‖ zone → a crop (PNG),
//!   for the staff member who signs the request off: a reference to a blob
//!   (raw bytes in a store written before blobs);
//! - `meta`: counters and cursors;
//! - `tokens`, `approvals`, `accounts`: staff sign-off (see [`signoff`]).
//!
//! All of one message's effects go in through `commit`, one transaction,
//! followed by a flush: only then may the message leave the inbox. Large
//! bytes go to the `guichet-blobs/` directory beside sled's files, durably, before
//! the transaction that names them ([`blobs`]). Staff
//! sign-off adds its own trees and transaction in [`signoff`].

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::domain::Outgoing;
use crate::domain::{Outcome, Request, State};
use crate::rules;

mod admin;
mod blobs;
pub mod cursor;
mod retention;
mod rewrite;
pub mod signoff;
pub use retention::{digest, settled_at, Erasure, ForgetError, Forgetting, Purge, Retention};

/// What one handled message leaves behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Processed {
    pub message_id: String,
    pub at: DateTime<Utc>,
    /// `None` for a message that was set aside without a decision.
    pub outcome: Option<Outcome>,
    pub requests: Vec<String>,
}

/// Every effect of one message, committed together.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub fingerprint: String,
    pub processed: Option<Processed>,
    /// New requests and requests whose state changed; keyed by id and date.
    pub requests: Vec<Request>,
    pub outgoing: Vec<Outgoing>,
    /// Senders answered automatically now (for the daily limit).
    pub answered: Vec<(String, DateTime<Utc>)>,
    /// Our reply's Message-ID → the requests it is about.
    pub answer_index: Vec<(String, Vec<String>)>,
    /// The PDF and crops of each request, for the staff member who signs it off.
    pub documents: Vec<(String, Document)>,
}

/// What staff need to see of a request besides its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub pdf: Vec<u8>,
    pub crops: Vec<crate::domain::Crop>,
}

/// An outgoing message and its delivery attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub mail: Outgoing,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The blob holding `mail.raw` (then empty in the record); none in a
    /// record written before blobs, which holds the bytes itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

/// `guichet status` in numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub processing_date: Option<NaiveDate>,
    pub depth: std::collections::BTreeMap<String, usize>,
    pub outbox_pending: usize,
    pub outbox_failed: usize,
    pub messages_processed: usize,
    pub last_poll: Option<DateTime<Utc>>,
}

pub struct Store {
    db: sled::Db,
    requests: sled::Tree,
    request_keys: sled::Tree,
    processed: sled::Tree,
    answers: sled::Tree,
    outbox: sled::Tree,
    failed: sled::Tree,
    sent_log: sled::Tree,
    documents: sled::Tree,
    meta: sled::Tree,
    tokens: sled::Tree,
    approvals: sled::Tree,
    accounts: sled::Tree,
    blobs: blobs::Blobs,
}

/// A transaction's outcome, not yet durable.
type Transaction<T> = std::result::Result<T, TransactionError<anyhow::Error>>;

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<anyhow::Error>>;

fn abort<E: Into<anyhow::Error>>(e: E) -> ConflictableTransactionError<anyhow::Error> {
    ConflictableTransactionError::Abort(e.into())
}

fn request_key(r: &Request) -> Vec<u8> {
    // Offset so that dates before 1970 still sort (they should never occur).
    let ms = (r.received_at.timestamp_millis() as i128 + (1i128 << 62)) as u64;
    let mut key = ms.to_be_bytes().to_vec();
    key.extend_from_slice(r.id.as_bytes());
    key
}

/// A request encoded for a transaction: (key in `requests`, JSON, id).
type EncodedRequest = (Vec<u8>, Vec<u8>, String);

fn encode_requests(requests: &[Request]) -> Result<Vec<EncodedRequest>> {
    requests
        .iter()
        .map(|r| Ok((request_key(r), to_json(r)?, r.id.clone())))
        .collect()
}

/// sled's page cache (its default is 1 GiB): the desk's working set is the
/// waiting requests and the outbox, and memory must not grow with history.
const CACHE_BYTES: u64 = 32 << 20;

/// Index entry kinds (after the zero byte that sets them apart from ids).
const BY_MAILBOX: u8 = b'm';
const BY_PROFESSIONAL: u8 = b'a';
const PENDING: u8 = b'p';
const STATE_COUNT: u8 = b'c';
/// Set in `meta` once the index of an older store has been built.
const INDEX_VERSION: &str = "request_index";
/// Set in `meta` once the documents of an older store are blobs.
const DOCUMENTS_IN_BLOBS: &str = "documents_in_blobs";

fn index_key(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![0, kind];
    for part in parts {
        key.extend_from_slice(part);
        key.push(0);
    }
    key
}

/// The index entries of a request stored under `key`:
/// - by mailbox (each party's address as [`rules::mailbox_key`] makes it)
///   and by professional and service (`licence ‖ service`), for requests
///   that [hold their place](State::holds_place): what the rules ask;
/// - the requests waiting for staff, in reception order: the processing date.
fn index_keys(r: &Request, key: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let id = r.id.as_bytes();
    if r.state.holds_place() {
        for email in [&r.employer.email, &r.user.email] {
            if !email.is_empty() {
                let mailbox = rules::mailbox_key(email);
                out.push(index_key(BY_MAILBOX, &[mailbox.as_bytes(), id]));
            }
        }
        if let Some(service) = &r.service {
            let licence = r.employer.licence.as_bytes();
            out.push(index_key(
                BY_PROFESSIONAL,
                &[licence, service.as_bytes(), id],
            ));
        }
    }
    if r.state.is_pending() {
        out.push(index_key(PENDING, &[key]));
    }
    out
}

/// Adds `delta` to the number of requests in `state` (kept beside the index).
fn count_state(keys: &TransactionalTree, state: State, delta: i64) -> TxResult<()> {
    let key = state_count_key(state);
    let now = count_in(keys.get(&key)?);
    keys.insert(key, &(now + delta).to_be_bytes())?;
    Ok(())
}

fn state_count_key(state: State) -> Vec<u8> {
    index_key(STATE_COUNT, &[state.as_str().as_bytes()])
}

/// A count kept beside the index (none yet: 0).
fn count_in(value: Option<sled::IVec>) -> i64 {
    value
        .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
        .unwrap_or(0)
}

/// Writes a request under its date key, dropping the old entry should the
/// key have changed, and its index entries in place of the old ones.
fn put_request(
    requests: &TransactionalTree,
    keys: &TransactionalTree,
    (key, value, id): &EncodedRequest,
) -> TxResult<()> {
    if let Some(old_key) = keys.get(id.as_bytes())? {
        if let Some(old) = requests.get(&old_key)? {
            let old: Request = from_json(&old).map_err(abort)?;
            for entry in index_keys(&old, &old_key) {
                keys.remove(entry)?;
            }
            count_state(keys, old.state, -1)?;
        }
        if old_key.as_ref() != key.as_slice() {
            requests.remove(old_key)?;
        }
    }
    let new: Request = from_json(value).map_err(abort)?;
    for entry in index_keys(&new, key) {
        keys.insert(entry, &[])?;
    }
    count_state(keys, new.state, 1)?;
    requests.insert(key.as_slice(), value.as_slice())?;
    keys.insert(id.as_bytes(), key.as_slice())?;
    Ok(())
}

/// Records a message as handled, inside a transaction.
fn mark_processed(
    done: &sled::transaction::TransactionalTree,
    fingerprint: &str,
    processed: Option<&[u8]>,
) -> TxResult<()> {
    if let Some(p) = processed {
        if fingerprint.is_empty() {
            return Err(abort(anyhow::anyhow!(
                "a processed mark needs a fingerprint"
            )));
        }
        done.insert(fingerprint.as_bytes(), p)?;
    }
    Ok(())
}

fn crop_key(request_id: &str, zone: &str) -> Vec<u8> {
    let mut key = request_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(zone.as_bytes());
    key
}

/// sled refuses a second opener with an I/O error about its lock file.
fn is_locked(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let text = c.to_string();
        text.contains("lock")
            || text.contains("WouldBlock")
            || text.contains("temporarily unavailable")
    })
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).context("corrupt record in the store")
}

/// The store as the rules' [`rules::OnFile`], answered from its index. The
/// rules' questions cannot fail; a read error is kept and given back by
/// [`Lookup::finish`], which the step that asked them calls.
pub struct Lookup<'a> {
    store: &'a Store,
    error: std::cell::RefCell<Option<anyhow::Error>>,
}

impl Lookup<'_> {
    /// The first read error met while answering, if any.
    pub fn finish(self) -> Result<()> {
        self.error.into_inner().map_or(Ok(()), Err)
    }

    fn answer(&self, found: Result<Vec<Request>>) -> Vec<Request> {
        found.unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            Vec::new()
        })
    }
}

impl rules::OnFile for Lookup<'_> {
    fn with_mailbox(&self, mailbox_key: &str) -> Vec<Request> {
        self.answer(self.store.requests_with_mailbox(mailbox_key))
    }

    fn of_professional(&self, licence: &str, service: &str) -> Vec<Request> {
        self.answer(self.store.requests_of_professional(licence, service))
    }
}

impl Store {
    /// Opens the store. The daemon holds it only while it works, so a
    /// command run beside it (`status`, `queue list`) waits for its turn:
    /// up to `patience` while another process holds sled's lock.
    pub fn open_waiting(path: &Path, patience: std::time::Duration) -> Result<Store> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            match Store::open(path) {
                Err(e) if std::time::Instant::now() < deadline && is_locked(&e) => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    pub fn open(path: &Path) -> Result<Store> {
        // Held while sled opens: a rewrite swapping the files keeps us out.
        let _gate = rewrite::gate(path)?;
        rewrite::recover_blobs(path)?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open()
            .with_context(|| format!("cannot open the store at {}", path.display()))?;
        let tree = |name: &str| db.open_tree(name);
        let store = Store {
            requests: tree("requests")?,
            request_keys: tree("request_keys")?,
            processed: tree("processed")?,
            answers: tree("answers")?,
            outbox: tree("outbox")?,
            failed: tree("failed")?,
            sent_log: tree("sent_log")?,
            documents: tree("documents")?,
            meta: tree("meta")?,
            tokens: tree("tokens")?,
            approvals: tree("approvals")?,
            accounts: tree("accounts")?,
            blobs: blobs::Blobs::open(path)?,
            db,
        };
        store.index_if_needed()?;
        store.documents_to_blobs()?;
        store.sweep_blobs()?;
        Ok(store)
    }

    /// Moves the documents an older store holds in sled to blobs (once),
    /// so that no opening reads every PDF to find the blobs named.
    fn documents_to_blobs(&self) -> Result<()> {
        if self.meta.contains_key(DOCUMENTS_IN_BLOBS)? {
            return Ok(());
        }
        for item in self.documents.iter() {
            let (key, value) = item?;
            if blobs::named_by(&value).is_none() {
                let name = self.blobs.put(&value)?;
                self.documents.insert(key, blobs::reference(&name))?;
            }
        }
        self.meta.insert(DOCUMENTS_IN_BLOBS, &b"1"[..])?;
        self.db.flush()?;
        Ok(())
    }

    /// The blobs some record names: the documents' and the outgoing
    /// messages' (waiting or refused).
    fn named_blobs(&self) -> Result<std::collections::HashSet<String>> {
        let mut named = std::collections::HashSet::new();
        for item in self.documents.iter() {
            if let Some(name) = blobs::named_by(&item?.1) {
                named.insert(name.to_string());
            }
        }
        for tree in [&self.outbox, &self.failed] {
            for item in tree.iter() {
                let q: Queued = from_json(&item?.1)?;
                named.extend(q.blob);
            }
        }
        Ok(named)
    }

    /// Removes the blobs no record names (zeroed first); call it with the
    /// records' removal durable.
    pub(crate) fn sweep_blobs(&self) -> Result<usize> {
        let named = self.named_blobs()?;
        self.blobs.keep_only(&named)
    }

    /// A record's bytes: from its blob, or the record itself (older stores).
    fn bytes_of(&self, value: &[u8]) -> Result<Vec<u8>> {
        match blobs::named_by(value) {
            Some(name) => self.blobs.get(name),
            None => Ok(value.to_vec()),
        }
    }

    /// A queued message with its bytes, wherever they are kept.
    fn with_bytes(&self, mut q: Queued) -> Result<Queued> {
        if let Some(name) = &q.blob {
            q.mail.raw = self.blobs.get(name)?;
        }
        Ok(q)
    }

    /// Builds the secondary index of a store written before it existed
    /// (once: later writes keep it up to date in their transactions).
    fn index_if_needed(&self) -> Result<()> {
        if self.meta.contains_key(INDEX_VERSION)? {
            return Ok(());
        }
        let mut counts: std::collections::BTreeMap<State, i64> = Default::default();
        for item in self.requests.iter() {
            let (key, value) = item?;
            let r: Request = from_json(&value)?;
            for entry in index_keys(&r, &key) {
                self.request_keys.insert(entry, &[])?;
            }
            *counts.entry(r.state).or_default() += 1;
        }
        for (state, n) in counts {
            self.request_keys
                .insert(state_count_key(state), &n.to_be_bytes())?;
        }
        self.meta.insert(INDEX_VERSION, &b"1"[..])?;
        self.db.flush()?;
        Ok(())
    }

    /// The requests whose index entries start with `prefix` (entries end
    /// with the request id).
    fn indexed(&self, prefix: &[u8]) -> Result<Vec<Request>> {
        let mut out = Vec::new();
        for item in self.request_keys.scan_prefix(prefix) {
            let (entry, _) = item?;
            let id = entry[prefix.len()..].strip_suffix(&[0]).unwrap_or_default();
            if let Some(r) = self.request(&String::from_utf8_lossy(id))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The store as the rules ask about it (see [`Lookup`]).
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup {
            store: self,
            error: Default::default(),
        }
    }

    /// Requests holding their place in which a party's address has this
    /// mailbox key ([`rules::mailbox_key`]).
    pub fn requests_with_mailbox(&self, mailbox_key: &str) -> Result<Vec<Request>> {
        self.indexed(&index_key(BY_MAILBOX, &[mailbox_key.as_bytes()]))
    }

    /// Requests holding their place of this professional for this service.
    pub fn requests_of_professional(&self, licence: &str, service: &str) -> Result<Vec<Request>> {
        self.indexed(&index_key(
            BY_PROFESSIONAL,
            &[licence.as_bytes(), service.as_bytes()],
        ))
    }

    /// Has a message with this fingerprint already been handled?
    pub fn was_processed(&self, fingerprint: &str) -> Result<bool> {
        Ok(self.processed.contains_key(fingerprint)?)
    }

    /// Commits all effects of one message atomically, then flushes. Returns
    /// false (and changes nothing) when the fingerprint was already handled.
    pub fn commit(&self, c: &Commit) -> Result<bool> {
        self.naming_blobs(|written| self.commit_naming(c, written))
    }

    /// Runs `commit`, which writes blobs (their names into its argument),
    /// durable, then the transaction that names them. Should the
    /// transaction not commit, the blobs go again; else it is made durable.
    fn naming_blobs(
        &self,
        commit: impl FnOnce(&mut Vec<String>) -> Result<Transaction<bool>>,
    ) -> Result<bool> {
        let mut written = Vec::new();
        let result = commit(&mut written);
        if !matches!(result, Ok(Ok(true))) {
            for name in &written {
                self.blobs.remove(name)?;
            }
        }
        self.durable(result?)
    }

    /// Writes the blobs of `c` (their names into `written`), then commits.
    fn commit_naming(&self, c: &Commit, written: &mut Vec<String>) -> Result<Transaction<bool>> {
        let encoded_requests = encode_requests(&c.requests)?;
        let processed = c.processed.as_ref().map(to_json).transpose()?;
        let trees = (
            &self.requests,
            &self.request_keys,
            &self.processed,
            &self.answers,
            &self.outbox,
            &self.sent_log,
            &self.documents,
        );
        let outgoing = self.enqueue(&c.outgoing, written)?;
        let answers: Vec<(String, Vec<u8>)> = c
            .answer_index
            .iter()
            .map(|(id, reqs)| Ok((id.clone(), to_json(reqs)?)))
            .collect::<Result<_>>()?;

        let mut documents: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (id, d) in &c.documents {
            let mut keep = |key: Vec<u8>, bytes: &[u8]| -> Result<()> {
                let name = self.blobs.put(bytes)?;
                documents.push((key, blobs::reference(&name)));
                written.push(name);
                Ok(())
            };
            keep(id.as_bytes().to_vec(), &d.pdf)?;
            for crop in &d.crops {
                keep(crop_key(id, &crop.zone), &crop.png)?;
            }
        }

        let result = trees.transaction(
            |(requests, keys, done, answer_tree, outbox, sent, docs)| -> TxResult<bool> {
                if !c.fingerprint.is_empty() && done.get(c.fingerprint.as_bytes())?.is_some() {
                    return Ok(false);
                }
                for encoded in &encoded_requests {
                    put_request(requests, keys, encoded)?;
                }
                for (seq, value) in &outgoing {
                    outbox.insert(&seq.to_be_bytes(), value.as_slice())?;
                }
                for (sender, at) in &c.answered {
                    let mut key = sender.as_bytes().to_vec();
                    key.push(0);
                    key.extend_from_slice(&at.timestamp_millis().to_be_bytes());
                    sent.insert(key, &[])?;
                }
                for (id, value) in &answers {
                    answer_tree.insert(id.as_bytes(), value.as_slice())?;
                }
                for (key, value) in &documents {
                    // A PDF replaced: its old blob is swept at the next opening.
                    docs.insert(key.as_slice(), value.as_slice())?;
                }
                mark_processed(done, &c.fingerprint, processed.as_deref())?;
                Ok(true)
            },
        );
        Ok(result)
    }

    /// A transaction's result as ours, made durable before it is returned:
    /// only then may the message that caused it leave the inbox.
    fn durable<T>(&self, result: Transaction<T>) -> Result<T> {
        let value = match result {
            Ok(v) => v,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        };
        self.db.flush()?;
        Ok(value)
    }

    /// Outgoing messages as outbox entries (sequence, JSON), due now; their
    /// bytes written as blobs (named in `written`).
    fn enqueue(
        &self,
        mails: &[Outgoing],
        written: &mut Vec<String>,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        mails
            .iter()
            .map(|m| {
                let name = self.blobs.put(&m.raw)?;
                written.push(name.clone());
                let q = Queued {
                    mail: Outgoing {
                        raw: Vec::new(),
                        ..m.clone()
                    },
                    attempts: 0,
                    next_attempt: Utc::now(),
                    last_error: None,
                    blob: Some(name),
                };
                Ok((self.db.generate_id()?, to_json(&q)?))
            })
            .collect()
    }

    /// Takes the next number of the year for a request id (`DA-2024-000123`).
    /// Numbers are never reused; a crash may leave a gap, which is harmless.
    pub fn next_request_id(&self, year: i32) -> Result<String> {
        let key = format!("seq:{year}");
        let n = self
            .meta
            .update_and_fetch(key.as_bytes(), |old| {
                let cur = old
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Some((cur + 1).to_be_bytes().to_vec())
            })?
            .and_then(|b| b.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(1);
        Ok(format!("DA-{year}-{n:06}"))
    }

    /// Requests oldest reception first, optionally of one state.
    pub fn requests(&self, state: Option<State>) -> Result<Vec<Request>> {
        let mut out = Vec::new();
        for item in self.requests.iter() {
            let (_, v) = item?;
            let r: Request = from_json(&v)?;
            if state.is_none_or(|s| s == r.state) {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub fn request(&self, id: &str) -> Result<Option<Request>> {
        let Some(key) = self.request_keys.get(id.as_bytes())? else {
            return Ok(None);
        };
        self.requests.get(key)?.map(|v| from_json(&v)).transpose()
    }

    /// The PDF and crops kept for a request.
    pub fn document(&self, request_id: &str) -> Result<Option<Document>> {
        let Some(pdf) = self.documents.get(request_id.as_bytes())? else {
            return Ok(None);
        };
        let pdf = self.bytes_of(&pdf)?;
        let prefix = crop_key(request_id, "");
        let mut crops = Vec::new();
        for item in self.documents.scan_prefix(&prefix) {
            let (k, v) = item?;
            crops.push(crate::domain::Crop {
                zone: String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                png: self.bytes_of(&v)?,
            });
        }
        Ok(Some(Document { pdf, crops }))
    }

    /// The requests one of our replies was about (a correction answering it
    /// resumes them).
    pub fn answered_requests(&self, reply_message_id: &str) -> Result<Vec<String>> {
        match self.answers.get(reply_message_id.as_bytes())? {
            Some(v) => from_json(&v),
            None => Ok(Vec::new()),
        }
    }

    /// The date shown to applicants: reception date of the oldest request
    /// still waiting for staff.
    pub fn processing_date(&self) -> Result<Option<NaiveDate>> {
        Ok(self.oldest_pending()?.map(|at| at.date_naive()))
    }

    /// The requests waiting for staff (`queued`, `review`), oldest first.
    pub fn waiting_requests(&self) -> Result<Vec<Request>> {
        self.waiting(usize::MAX)
    }

    /// When the oldest request still waiting for staff was received.
    pub fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.waiting(1)?.first().map(|r| r.received_at))
    }

    /// The first `limit` requests of the waiting index.
    fn waiting(&self, limit: usize) -> Result<Vec<Request>> {
        let mut out = Vec::new();
        for item in self.request_keys.scan_prefix([0, PENDING]).take(limit) {
            let (entry, _) = item?;
            let key = entry[2..].strip_suffix(&[0]).unwrap_or_default();
            if let Some(value) = self.requests.get(key)? {
                out.push(from_json(&value)?);
            }
        }
        Ok(out)
    }

    /// How many requests are in each state (counted as they change).
    fn depth(&self) -> Result<std::collections::BTreeMap<String, usize>> {
        State::ALL
            .iter()
            .map(|&state| {
                let n = count_in(self.request_keys.get(state_count_key(state))?);
                Ok((state.as_str().to_string(), n.max(0) as usize))
            })
            .collect()
    }

    /// Automatic replies sent to `sender` since `since`.
    pub fn replies_since(&self, sender: &str, since: DateTime<Utc>) -> Result<usize> {
        let mut prefix = sender.as_bytes().to_vec();
        prefix.push(0);
        let mut count = 0;
        for item in self.sent_log.scan_prefix(&prefix) {
            let (k, _) = item?;
            let ms = k[prefix.len()..]
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            if ms >= since.timestamp_millis() {
                count += 1;
            }
        }
        Ok(count)
    }

    /// The first outgoing message due at `now` after sequence `after`
    /// (from the start when `None`): the outbox is drained one at a time.
    pub fn next_due_outgoing(
        &self,
        after: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Option<(u64, Queued)>> {
        let from = after.map_or(0, |seq| seq.saturating_add(1));
        for item in self.outbox.range(from.to_be_bytes()..) {
            let (k, v) = item?;
            let q: Queued = from_json(&v)?;
            if q.next_attempt <= now {
                let seq = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
                return Ok(Some((seq, self.with_bytes(q)?)));
            }
        }
        Ok(None)
    }

    /// When the earliest message still in the outbox is due, if any.
    pub fn next_send_at(&self) -> Result<Option<DateTime<Utc>>> {
        let mut earliest: Option<DateTime<Utc>> = None;
        for item in self.outbox.iter() {
            let q: Queued = from_json(&item?.1)?;
            earliest = Some(earliest.map_or(q.next_attempt, |e| e.min(q.next_attempt)));
        }
        Ok(earliest)
    }

    /// The server accepted it: gone from the outbox, its bytes with it
    /// once that is durable.
    pub fn sent(&self, seq: u64) -> Result<()> {
        let Some(value) = self.outbox.remove(seq.to_be_bytes())? else {
            return Ok(());
        };
        self.db.flush()?;
        let q: Queued = from_json(&value)?;
        if let Some(name) = &q.blob {
            self.blobs.remove(name)?;
        }
        Ok(())
    }

    /// A permanent failure: moved aside, shown by `status`.
    /// Its bytes stay while the record does (the retention sweeps both).
    pub fn give_up(&self, seq: u64, mut q: Queued, error: &str) -> Result<()> {
        q.attempts += 1;
        if q.blob.is_some() {
            q.mail.raw.clear();
        }
        q.last_error = Some(error.to_string());
        let value = to_json(&q)?;
        (&self.outbox, &self.failed)
            .transaction(|(outbox, failed)| -> TxResult<()> {
                outbox.remove(&seq.to_be_bytes())?;
                failed.insert(&seq.to_be_bytes(), value.as_slice())?;
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("store: {e:?}"))?;
        self.db.flush()?;
        Ok(())
    }

    /// Messages the server refused for good.
    pub fn failed_outgoing(&self) -> Result<Vec<Queued>> {
        self.failed
            .iter()
            .map(|item| self.with_bytes(from_json(&item?.1)?))
            .collect()
    }

    /// The size of a queued message's bytes, wherever they are kept.
    fn outgoing_len(&self, q: &Queued) -> Result<u64> {
        match &q.blob {
            Some(name) => self.blobs.len(name),
            None => Ok(q.mail.raw.len() as u64),
        }
    }

    pub fn set_last_poll(&self, at: DateTime<Utc>) -> Result<()> {
        self.meta.insert("last_poll", at.to_rfc3339().as_bytes())?;
        Ok(())
    }

    pub fn status(&self) -> Result<Status> {
        let depth = self.depth()?;
        let last_poll = self
            .meta
            .get("last_poll")?
            .and_then(|v| std::str::from_utf8(&v).ok().map(str::to_string))
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.with_timezone(&Utc));
        Ok(Status {
            processing_date: self.processing_date()?,
            depth,
            outbox_pending: self.outbox.len(),
            outbox_failed: self.failed.len(),
            messages_processed: self.processed.len(),
            last_poll,
        })
    }

    /// A raw value under `meta`, for small cursors (IMAP UIDVALIDITY…).
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key)?.map(|v| v.to_vec()))
    }

    pub fn meta_set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.meta.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }
}

/// The "being read" mark: set (and flushed) before a message's attachments
/// are read, cleared once its effects are committed. A mark found at the
/// next start means the daemon stopped while reading that message (killed
/// for its memory, a power cut, or worse). The mark counts those stops: a
/// message is read again after one (the stop may have had nothing to do
/// with it), and set aside after [`MAX_READS`] (it is what stops the
/// daemon). Kept in `meta` under `reading:<fingerprint>`.
impl Store {
    fn reading_key(fingerprint: &str) -> String {
        format!("reading:{fingerprint}")
    }

    /// Marks a message as being read, one read more; durable when this returns.
    pub fn begin_reading(&self, fingerprint: &str) -> Result<()> {
        let reads = self.reads_begun(fingerprint)? + 1;
        self.meta_set(
            &Self::reading_key(fingerprint),
            reads.to_string().as_bytes(),
        )
    }

    /// How many reads of this message began and never ended (the daemon
    /// stopped during each). A mark from before the count counts as one.
    pub fn reads_begun(&self, fingerprint: &str) -> Result<u32> {
        Ok(self
            .meta
            .get(Self::reading_key(fingerprint))?
            .map(|v| {
                std::str::from_utf8(&v)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1)
            })
            .unwrap_or(0))
    }

    /// Clears the mark once the message's effects are committed.
    pub fn done_reading(&self, fingerprint: &str) -> Result<()> {
        self.meta.remove(Self::reading_key(fingerprint))?;
        Ok(())
    }
}

/// Reads of one message the daemon stopped during before it sets the
/// message aside unread.
pub const MAX_READS: u32 = 2;

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{Employer, User};
    use chrono::TimeZone;

    pub(in crate::store) fn request(id: &str, day: u32, state: State) -> Request {
        Request {
            id: id.to_string(),
            received_at: Utc.with_ymd_and_hms(2024, 11, day, 8, 0, 0).unwrap(),
            state,
            reasons: vec![],
            service: Some("FACT".into()),
            message_id: format!("<{id}@x>"),
            attachment: "f.pdf".into(),
            sender: "a@b.example".into(),
            employer: Employer::default(),
            user: User::default(),
            fields: Default::default(),
            history: vec![],
        }
    }

    #[test]
    fn requests_come_back_oldest_first_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            for (fp, id, day) in [("m1", "DA-2024-000001", 20), ("m2", "DA-2024-000002", 18)] {
                let c = Commit {
                    fingerprint: fp.into(),
                    requests: vec![request(id, day, State::Queued)],
                    ..Default::default()
                };
                assert!(store.commit(&c).unwrap());
            }
        }
        let store = Store::open(dir.path()).unwrap();
        let c = Commit {
            fingerprint: "m3".into(),
            requests: vec![request("DA-2024-000003", 19, State::Review)],
            ..Default::default()
        };
        store.commit(&c).unwrap();
        let ids: Vec<_> = store
            .requests(None)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["DA-2024-000002", "DA-2024-000003", "DA-2024-000001"]);
        assert_eq!(
            store.processing_date().unwrap(),
            NaiveDate::from_ymd_opt(2024, 11, 18)
        );
        let review = store.requests(Some(State::Review)).unwrap();
        assert_eq!(review.len(), 1);
    }

    #[test]
    fn a_second_commit_of_the_same_message_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let processed = Processed {
            message_id: "<a@b>".into(),
            at: Utc::now(),
            outcome: Some(Outcome::Queued),
            requests: vec!["DA-2024-000001".into()],
        };
        let mail = Outgoing {
            id: "r1".into(),
            envelope_from: "acces@organisme.example".into(),
            to: vec!["a@b.example".into()],
            raw: b"x".to_vec(),
        };
        let c = Commit {
            fingerprint: "fp".into(),
            processed: Some(processed),
            requests: vec![request("DA-2024-000001", 18, State::Queued)],
            outgoing: vec![mail],
            ..Default::default()
        };
        assert!(store.commit(&c).unwrap());
        assert!(!store.commit(&c).unwrap());
        assert_eq!(store.requests(None).unwrap().len(), 1);
        let (seq, _) = store.next_due_outgoing(None, Utc::now()).unwrap().unwrap();
        assert!(store
            .next_due_outgoing(Some(seq), Utc::now())
            .unwrap()
            .is_none());
        assert!(store.was_processed("fp").unwrap());
    }

    #[test]
    fn updating_a_request_keeps_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut r = request("DA-2024-000001", 18, State::Correction);
        store
            .commit(&Commit {
                fingerprint: "a".into(),
                requests: vec![r.clone()],
                ..Default::default()
            })
            .unwrap();
        r.state = State::Queued;
        store
            .commit(&Commit {
                fingerprint: "b".into(),
                requests: vec![r],
                ..Default::default()
            })
            .unwrap();
        let all = store.requests(None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state, State::Queued);
        assert_eq!(
            store.request("DA-2024-000001").unwrap().unwrap().state,
            State::Queued
        );
    }

    #[test]
    fn request_numbers_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.next_request_id(2024).unwrap(), "DA-2024-000001");
        assert_eq!(store.next_request_id(2024).unwrap(), "DA-2024-000002");
        assert_eq!(store.next_request_id(2025).unwrap(), "DA-2025-000001");
    }

    /// The index answers what the rules ask, follows every change of a
    /// request in the same commit, and is built for a store written before it.
    #[test]
    fn the_index_answers_the_rules_and_follows_each_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut r = request("DA-2024-000001", 18, State::Queued);
        r.employer.licence = "104382".into();
        r.employer.email = "Dr.Gelinas@Clinique.example".into();
        r.user.email = "julie+da100@clinique.example".into();
        let older = request("DA-2024-000002", 17, State::Review);
        let put = |fingerprint: &str, requests: Vec<Request>| {
            let c = Commit {
                fingerprint: fingerprint.into(),
                requests,
                ..Default::default()
            };
            store.commit(&c).unwrap();
        };
        put("a", vec![r.clone(), older.clone()]);
        let ids = |found: Vec<Request>| found.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let julie = rules::mailbox_key("julie@clinique.example");
        assert_eq!(
            ids(store.requests_with_mailbox(&julie).unwrap()),
            ["DA-2024-000001"]
        );
        let gelinas = rules::mailbox_key("dr.gelinas@clinique.example");
        assert_eq!(store.requests_with_mailbox(&gelinas).unwrap().len(), 1);
        let of = |licence, service| ids(store.requests_of_professional(licence, service).unwrap());
        assert_eq!(of("104382", "FACT"), ["DA-2024-000001"]);
        assert!(of("104382", "PAIE").is_empty());
        assert_eq!(
            store.processing_date().unwrap(),
            Some(older.received_at.date_naive())
        );

        // Refused: it holds no address, no place, and no longer waits.
        r.state = State::Refused;
        put("b", vec![r.clone()]);
        assert!(store.requests_with_mailbox(&julie).unwrap().is_empty());
        assert!(of("104382", "FACT").is_empty());
        let mut approved = older.clone();
        approved.state = State::Approved;
        put("c", vec![approved]);
        assert_eq!(store.processing_date().unwrap(), None);

        // A store from before the index: entries gone, version unset.
        r.state = State::Approved;
        put("d", vec![r]);
        let entries: Vec<_> = store.request_keys.scan_prefix([0]).keys().collect();
        assert!(!entries.is_empty());
        for key in entries {
            store.request_keys.remove(key.unwrap()).unwrap();
        }
        store.meta.remove(INDEX_VERSION).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.requests_with_mailbox(&julie).unwrap().len(), 1);
        assert_eq!(
            rules::OnFile::with_mailbox(&store.lookup(), &julie).len(),
            1
        );
    }

    #[test]
    fn a_being_read_mark_outlives_a_reopening_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        for read in 1..=2 {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.reads_begun("fp1").unwrap(), read - 1);
            store.begin_reading("fp1").unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.reads_begun("fp1").unwrap(), MAX_READS);
        assert_eq!(store.reads_begun("fp2").unwrap(), 0);
        store.done_reading("fp1").unwrap();
        assert_eq!(store.reads_begun("fp1").unwrap(), 0);
    }
}
