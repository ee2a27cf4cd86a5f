//! The operator's side of the store: retention of documents, export,
//! backup and restore.
//!
//! Each runs while its caller holds the store, so beside a running daemon
//! (which holds it only during a round) they see and write a consistent
//! state, never half of a message's effects.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::TransactionError;
use sled::Transactional;

use super::{crop_key, from_json, request_key, to_json, Store, TxResult};
use crate::domain::{HistoryEntry, Request, State};

/// The tree of audit records: purge time (ms, big-endian) ‖ request id → `Purge`.
const AUDIT_TREE: &str = "audit";
/// `meta` key: the last day retention ran.
const RETENTION_LAST: &str = "retention:last";

/// What retention removed from one request, kept after the bytes are gone:
/// enough to prove which file was held, nothing of its contents.
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

/// A decision no one will revisit: the documents have served their purpose.
fn is_final(state: State) -> bool {
    matches!(state, State::Approved | State::Refused | State::Rejected)
}

/// When a request reached its final state: the last history entry in that
/// state, else its reception (a request rejected on arrival has no other date).
fn decided_at(r: &Request) -> DateTime<Utc> {
    r.history
        .iter()
        .rev()
        .find(|h| h.state == r.state)
        .map(|h| h.at)
        .unwrap_or(r.received_at)
}

/// First line of a backup file.
const BACKUP_MAGIC: &[u8] = b"guichet-backup 1\n";
/// One key or value larger than this is not ours: the file is refused.
const MAX_RECORD: u64 = 1 << 30;

impl Store {
    /// Requests whose PDF and crops are still held.
    pub fn documents_held(&self) -> Result<usize> {
        let mut n = 0;
        for item in self.documents.iter() {
            if !item?.0.contains(&0) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Writes everything pending to disk.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Runs `purge_documents` at most once a calendar day (UTC). `None` when
    /// it already ran today.
    pub fn purge_if_due(&self, now: DateTime<Utc>, days: u32) -> Result<Option<Vec<Purge>>> {
        let today = now.date_naive();
        let last = self
            .meta
            .get(RETENTION_LAST)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<NaiveDate>().ok());
        if last == Some(today) {
            return Ok(None);
        }
        let purged = self.purge_documents(now, days)?;
        self.meta
            .insert(RETENTION_LAST, today.to_string().as_bytes())?;
        self.db.flush()?;
        Ok(Some(purged))
    }

    /// Removes the PDF and crops of every request decided for good more than
    /// `days` ago. Each purge is one transaction: the bytes go, an audit
    /// record and a history entry come.
    pub fn purge_documents(&self, now: DateTime<Utc>, days: u32) -> Result<Vec<Purge>> {
        let cutoff = now - chrono::Duration::days(i64::from(days));
        let audit = self.db.open_tree(AUDIT_TREE)?;
        let mut purged = Vec::new();
        for r in self.requests(None)? {
            let decided = decided_at(&r);
            if !is_final(r.state) || decided > cutoff {
                continue;
            }
            let Some(doc) = self.document(&r.id)? else {
                continue;
            };
            let record = Purge {
                request: r.id.clone(),
                state: r.state,
                decided_at: decided,
                purged_at: now,
                pdf_bytes: doc.pdf.len() as u64,
                pdf_sha256: hex::encode(Sha256::digest(&doc.pdf)),
                crops: doc.crops.iter().map(|c| c.zone.clone()).collect(),
            };
            let mut updated = r.clone();
            updated.history.push(HistoryEntry {
                at: now,
                state: r.state,
                note: format!("PDF and crops purged after {days} days (retention)"),
            });
            let key = request_key(&updated);
            let value = to_json(&updated)?;
            let mut audit_key = now.timestamp_millis().to_be_bytes().to_vec();
            audit_key.extend_from_slice(r.id.as_bytes());
            let audit_value = to_json(&record)?;
            let crop_keys: Vec<Vec<u8>> = record.crops.iter().map(|z| crop_key(&r.id, z)).collect();
            (&self.documents, &self.requests, &audit)
                .transaction(|(docs, requests, audit)| -> TxResult<()> {
                    docs.remove(r.id.as_bytes())?;
                    for k in &crop_keys {
                        docs.remove(k.as_slice())?;
                    }
                    requests.insert(key.as_slice(), value.as_slice())?;
                    audit.insert(audit_key.as_slice(), audit_value.as_slice())?;
                    Ok(())
                })
                .map_err(tx_error)?;
            purged.push(record);
        }
        self.db.flush()?;
        Ok(purged)
    }

    /// The audit records of retention, oldest first.
    pub fn purges(&self) -> Result<Vec<Purge>> {
        let audit = self.db.open_tree(AUDIT_TREE)?;
        audit.iter().map(|item| from_json(&item?.1)).collect()
    }

    /// Every request, oldest reception first, as one JSON object a line
    /// (the whole record: fields and history too).
    pub fn export(&self, out: &mut dyn Write) -> Result<usize> {
        let mut n = 0;
        for item in self.requests.iter() {
            let r: Request = from_json(&item?.1)?;
            let mut value = serde_json::to_value(&r)?;
            value["documents_held"] = self.documents.contains_key(r.id.as_bytes())?.into();
            serde_json::to_writer(&mut *out, &value)?;
            out.write_all(b"\n")?;
            n += 1;
        }
        Ok(n)
    }

    /// Writes every tree, every key, to `path`: a temporary file beside it,
    /// synced, then renamed, so a backup on disk is always whole. The file
    /// ends with the SHA-256 of all that precedes it.
    pub fn backup(&self, path: &Path) -> Result<u64> {
        self.db.flush()?;
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = Hashed::new(std::io::BufWriter::new(file));
        w.write_all(BACKUP_MAGIC)?;
        let mut entries = 0;
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            put(&mut w, b"T", &name)?;
            for item in tree.iter() {
                let (k, v) = item?;
                put(&mut w, b"K", &k)?;
                put(&mut w, b"V", &v)?;
                entries += 1;
            }
        }
        let digest = w.hasher.clone().finalize();
        w.write_all(b"Z")?;
        w.write_all(&digest)?;
        let file = w.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(entries)
    }

    /// Replaces the store's whole content by a backup's. The file is read
    /// and checked in full (format, sizes, SHA-256) before anything changes;
    /// the replacement itself is tree by tree, so a crash in the middle
    /// calls for running the same restore again.
    pub fn restore(&self, path: &Path) -> Result<u64> {
        let trees = read_backup(path)?;
        let mut entries = 0;
        for name in self.db.tree_names() {
            if !trees.iter().any(|(n, _)| *n == name) {
                self.db.open_tree(&name)?.clear()?;
            }
        }
        for (name, pairs) in &trees {
            let tree = self.db.open_tree(name)?;
            tree.clear()?;
            let mut batch = sled::Batch::default();
            for (k, v) in pairs {
                batch.insert(k.as_slice(), v.as_slice());
                entries += 1;
            }
            tree.apply_batch(batch)?;
        }
        self.db.flush()?;
        // A backup of a store from before the request index has none.
        self.index_if_needed()?;
        Ok(entries)
    }
}

type Trees = Vec<(sled::IVec, Vec<(Vec<u8>, Vec<u8>)>)>;

fn tx_error(e: TransactionError<anyhow::Error>) -> anyhow::Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

/// Reads and checks a whole backup file.
fn read_backup(path: &Path) -> Result<Trees> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let refuse = |why: &str| anyhow::anyhow!("{} is not a usable backup: {why}", path.display());
    let body_len = bytes
        .len()
        .checked_sub(1 + 32)
        .ok_or_else(|| refuse("too short"))?;
    let (body, tail) = bytes.split_at(body_len);
    if tail[0] != b'Z' || Sha256::digest(body).as_slice() != &tail[1..] {
        return Err(refuse("checksum mismatch (truncated or altered)"));
    }
    let mut r = body
        .strip_prefix(BACKUP_MAGIC)
        .ok_or_else(|| refuse("unknown format"))?;
    let mut trees: Trees = Vec::new();
    while !r.is_empty() {
        let (tag, value) = take(&mut r).map_err(|e| refuse(&e.to_string()))?;
        match (&tag, trees.last_mut()) {
            (b"T", _) => trees.push((value.into(), Vec::new())),
            (b"K", Some((_, pairs))) => {
                let (vtag, v) = take(&mut r).map_err(|e| refuse(&e.to_string()))?;
                if &vtag != b"V" {
                    return Err(refuse("key without value"));
                }
                pairs.push((value, v));
            }
            _ => return Err(refuse("record out of place")),
        }
    }
    Ok(trees)
}

/// One record: a one-byte tag, a 64-bit big-endian length, the bytes.
fn put(w: &mut impl Write, tag: &[u8; 1], bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(tag)?;
    w.write_all(&(bytes.len() as u64).to_be_bytes())?;
    w.write_all(bytes)
}

fn take(r: &mut &[u8]) -> Result<([u8; 1], Vec<u8>)> {
    let mut tag = [0u8; 1];
    let mut len = [0u8; 8];
    r.read_exact(&mut tag)?;
    r.read_exact(&mut len)?;
    let len = u64::from_be_bytes(len);
    if len > MAX_RECORD || len > r.len() as u64 {
        bail!("record of {len} bytes runs past the end");
    }
    let (value, rest) = r.split_at(len as usize);
    *r = rest;
    Ok((tag, value.to_vec()))
}

/// A writer that hashes what goes through it.
struct Hashed<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Hashed<W> {
    fn new(inner: W) -> Self {
        Hashed {
            inner,
            hasher: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
