//! The operator's side of the store: export, backup and restore
//! (retention and erasure are in `retention`).
//!
//! Each runs while its caller holds the store, so beside a running daemon
//! (which holds it only during a round) they see and write a consistent
//! state, never half of a message's effects.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use sled::transaction::TransactionError;

use super::{from_json, Store};
use crate::domain::Request;

/// First line of a backup file: version 2 carries the blobs after the
/// trees; a version 1 file (no blobs) still restores.
const BACKUP_MAGIC: &[u8] = b"guichet-backup 2\n";
const BACKUP_MAGIC_1: &[u8] = b"guichet-backup 1\n";
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

    /// Writes every tree, every key, then every blob, to `path`: a
    /// temporary file beside it, synced, then renamed, so a backup on disk
    /// is always whole. The file ends with the SHA-256 of all that precedes
    /// it.
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
        for name in self.blobs.all()? {
            put(&mut w, b"B", name.as_bytes())?;
            put(&mut w, b"V", &self.blobs.get(&name)?)?;
            entries += 1;
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
        let (trees, blobs) = read_backup(path)?;
        let mut entries = 0;
        // The blobs first, durable before the records that name them.
        for (name, bytes) in &blobs {
            self.blobs.put_as(name, bytes)?;
            entries += 1;
        }
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
        // And its documents inside; blobs no restored record names go.
        self.documents_to_blobs()?;
        self.sweep_blobs()?;
        Ok(entries)
    }
}

type Trees = Vec<(sled::IVec, Vec<(Vec<u8>, Vec<u8>)>)>;
/// Blobs of a backup: name, bytes.
type BlobFiles = Vec<(String, Vec<u8>)>;

pub(super) fn tx_error(e: TransactionError<anyhow::Error>) -> anyhow::Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

/// Reads and checks a whole backup file.
fn read_backup(path: &Path) -> Result<(Trees, BlobFiles)> {
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
        .or_else(|| body.strip_prefix(BACKUP_MAGIC_1))
        .ok_or_else(|| refuse("unknown format"))?;
    let mut trees: Trees = Vec::new();
    let mut blobs: BlobFiles = Vec::new();
    while !r.is_empty() {
        let (tag, value) = take(&mut r).map_err(|e| refuse(&e.to_string()))?;
        let value_of = |r: &mut &[u8]| match take(r).map_err(|e| refuse(&e.to_string()))? {
            (vtag, v) if &vtag == b"V" => Ok(v),
            _ => Err(refuse("key without value")),
        };
        match (&tag, trees.last_mut()) {
            (b"T", _) if blobs.is_empty() => trees.push((value.into(), Vec::new())),
            (b"K", Some((_, pairs))) if blobs.is_empty() => {
                let v = value_of(&mut r)?;
                pairs.push((value, v));
            }
            (b"B", _) => {
                let name = String::from_utf8(value).map_err(|_| refuse("blob name"))?;
                blobs.push((name, value_of(&mut r)?));
            }
            _ => return Err(refuse("record out of place")),
        }
    }
    Ok((trees, blobs))
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
