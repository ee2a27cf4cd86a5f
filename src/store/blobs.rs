//! Large bytes — outgoing messages, PDFs, crops — as files in the store's
//! `guichet-blobs/` directory (sled keeps its own `blobs/`), so that they cost their size once: sled is
//! log-structured, and a large value written, then removed, stays in its
//! segments long after.
//!
//! A blob is written in full and made durable (temporary file, fsync,
//! rename, fsync of the directory) before the transaction that names it;
//! a blob no record names (the process stopped in between, or the record
//! is gone) is removed when the store opens and after an erasure. Removal
//! overwrites the file with zeros first, like the rewrite does with
//! sled's old files: erased data must not stay on the disk.
//!
//! Names are random (128 bits, hex), never derived from the content: two
//! records holding the same bytes each own their file, and removing one
//! never takes the other's.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::Rng;

/// The directory under the store's.
pub(super) const DIR: &str = "guichet-blobs";
/// A value in a tree that names a blob rather than holding the bytes (no
/// PDF or PNG starts with a zero byte).
pub(super) const REFERENCE: &[u8] = b"\0blob\0";
const TEMPORARY: &str = ".partial";
const NAME_LEN: usize = 32;

pub(super) struct Blobs {
    dir: PathBuf,
}

/// A well-formed blob name (a record read from disk could say anything).
fn valid(name: &str) -> bool {
    name.len() == NAME_LEN && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Makes a directory's entries (a rename, a removal) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

impl Blobs {
    /// The blob area of the store at `store_dir`, created if need be.
    pub(super) fn open(store_dir: &Path) -> Result<Blobs> {
        let dir = store_dir.join(DIR);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Blobs { dir })
    }

    /// Writes `bytes` durably under a new name, returned.
    pub(super) fn put(&self, bytes: &[u8]) -> Result<String> {
        let name = format!("{:032x}", rand::rng().random::<u128>());
        self.put_as(&name, bytes)?;
        Ok(name)
    }

    /// Writes `bytes` durably under `name` (a restore gives back the
    /// backup's names).
    pub(super) fn put_as(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if !valid(name) {
            bail!("not a blob name: {name:?}");
        }
        let tmp = self.dir.join(format!("{name}{TEMPORARY}"));
        let mut file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, self.dir.join(name))?;
        sync_dir(&self.dir)
    }

    pub(super) fn get(&self, name: &str) -> Result<Vec<u8>> {
        if !valid(name) {
            bail!("corrupt record in the store: not a blob name");
        }
        let path = self.dir.join(name);
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    pub(super) fn len(&self, name: &str) -> Result<u64> {
        if !valid(name) {
            bail!("corrupt record in the store: not a blob name");
        }
        Ok(std::fs::metadata(self.dir.join(name))?.len())
    }

    /// Zeroes the blob, then removes it (absent: nothing to do).
    pub(super) fn remove(&self, name: &str) -> Result<()> {
        if valid(name) {
            self.shred(&self.dir.join(name))?;
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn shred(&self, path: &Path) -> Result<()> {
        match zero(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            done => done?,
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))
    }

    /// The names of every blob, for a backup.
    pub(super) fn all(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if valid(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Removes (zeroed) every file but the blobs in `named`: blobs whose
    /// record is gone or never came, and half-written ones. Returns how
    /// many went.
    pub(super) fn keep_only(&self, named: &HashSet<String>) -> Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !named.contains(&name) {
                self.shred(&entry.path())?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

/// Overwrites the file at `path` with zeros, durably.
pub(super) fn zero(path: &Path) -> std::io::Result<()> {
    let file = File::options().write(true).open(path)?;
    let zeros = vec![0u8; 1 << 16];
    let mut w = std::io::BufWriter::new(&file);
    let mut left = file.metadata()?.len();
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        w.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    w.flush()?;
    drop(w);
    file.sync_all()
}

/// The blob a tree value names, if it names one.
pub(super) fn named_by(value: &[u8]) -> Option<&str> {
    value
        .strip_prefix(REFERENCE)
        .and_then(|n| std::str::from_utf8(n).ok())
}

/// The tree value that names blob `name`.
pub(super) fn reference(name: &str) -> Vec<u8> {
    [REFERENCE, name.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Outgoing;
    use crate::domain::{Crop, State};
    use crate::store::tests::request;
    use crate::store::{Commit, Document, Processed, Queued, Store};
    use chrono::Utc;

    fn files(store_dir: &Path) -> usize {
        std::fs::read_dir(store_dir.join(DIR)).unwrap().count()
    }

    /// One message's effects: a request, its PDF and a crop, a reply.
    fn commit(fingerprint: &str, id: &str, state: State) -> Commit {
        Commit {
            fingerprint: fingerprint.into(),
            requests: vec![request(id, 18, state)],
            outgoing: vec![Outgoing {
                id: format!("{id}-ack"),
                envelope_from: "acces@organisme.example".into(),
                to: vec!["a@b.example".into()],
                raw: b"Subject: accuse de reception\r\n\r\nBonjour\r\n".to_vec(),
            }],
            documents: vec![(
                id.into(),
                Document {
                    pdf: format!("%PDF-1.4 form of {id}").into_bytes(),
                    crops: vec![Crop {
                        zone: "user.email".into(),
                        png: b"\x89PNG crop".to_vec(),
                    }],
                },
            )],
            processed: Some(Processed {
                message_id: format!("<{fingerprint}@x>"),
                at: Utc::now(),
                outcome: None,
                requests: vec![id.into()],
            }),
            ..Default::default()
        }
    }

    /// The bytes are files named by the records, not values in sled; they
    /// read back through the store, and a sent message's file goes.
    #[test]
    fn large_bytes_live_in_files_the_records_name_and_go_once_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = commit("m1", "DA-2024-000001", State::Queued);
        assert!(store.commit(&c).unwrap());
        assert_eq!(files(dir.path()), 3, "reply, PDF, crop");
        // Committed again: refused, and no file written for nothing.
        assert!(!store.commit(&c).unwrap());
        assert_eq!(files(dir.path()), 3);

        let (_, record) = store.outbox.iter().next().unwrap().unwrap();
        assert!(!record.windows(7).any(|w| w == b"Bonjour"));
        let (seq, q) = store.next_due_outgoing(None, Utc::now()).unwrap().unwrap();
        assert_eq!(q.mail.raw, c.outgoing[0].raw);
        let doc = store.document("DA-2024-000001").unwrap().unwrap();
        assert_eq!(doc, c.documents[0].1);

        store.sent(seq).unwrap();
        assert_eq!(files(dir.path()), 2, "the reply's bytes are gone");
        assert!(store.next_due_outgoing(None, Utc::now()).unwrap().is_none());
    }

    /// A blob no record names — written just before a stop, or half
    /// written — is removed at the next opening; named ones stay.
    #[test]
    fn blobs_no_record_names_are_removed_at_opening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .commit(&commit("m1", "DA-2024-000001", State::Queued))
                .unwrap();
            store.blobs.put(b"never committed").unwrap();
            std::fs::write(dir.path().join(DIR).join("0a.partial"), b"half").unwrap();
            assert_eq!(files(dir.path()), 5);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(files(dir.path()), 3);
        assert!(store.document("DA-2024-000001").unwrap().is_some());
    }

    /// Records of a store from before blobs, bytes inside, still read and send.
    #[test]
    fn records_holding_their_bytes_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mail = Outgoing {
            id: "r1".into(),
            envelope_from: "acces@organisme.example".into(),
            to: vec!["a@b.example".into()],
            raw: b"Subject: older\r\n\r\nx\r\n".to_vec(),
        };
        let older = serde_json::json!({
            "mail": mail, "attempts": 0, "next_attempt": Utc::now(), "last_error": null,
        });
        store
            .outbox
            .insert(7u64.to_be_bytes(), serde_json::to_vec(&older).unwrap())
            .unwrap();
        store.documents.insert("DA-1", &b"%PDF older"[..]).unwrap();
        let (seq, q): (u64, Queued) = store.next_due_outgoing(None, Utc::now()).unwrap().unwrap();
        assert_eq!((seq, q.mail.raw), (7, mail.raw));
        assert_eq!(store.document("DA-1").unwrap().unwrap().pdf, b"%PDF older");
        store.sent(seq).unwrap();
        assert_eq!(store.status().unwrap().outbox_pending, 0);

        // Opened as an older store, its documents become blobs.
        assert_eq!(files(dir.path()), 0);
        store.meta.remove(super::super::DOCUMENTS_IN_BLOBS).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(files(dir.path()), 1);
        let (_, value) = store.documents.iter().next().unwrap().unwrap();
        assert!(named_by(&value).is_some());
        assert_eq!(store.document("DA-1").unwrap().unwrap().pdf, b"%PDF older");
    }

    /// Retention erases a settled request's documents: their files are
    /// gone, while a rewrite keeps those of a request still waiting.
    #[test]
    fn retention_removes_the_files_and_a_rewrite_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path).unwrap();
        store
            .commit(&commit("m1", "DA-2024-000001", State::Approved))
            .unwrap();
        store
            .commit(&commit("m2", "DA-2024-000002", State::Queued))
            .unwrap();
        while let Some((seq, _)) = store.next_due_outgoing(None, Utc::now()).unwrap() {
            store.sent(seq).unwrap();
        }
        assert_eq!(files(&path), 4);
        let done = store.retention(Utc::now(), 0).unwrap();
        assert_eq!(done.erased, ["DA-2024-000001"]);
        assert_eq!(files(&path), 2);
        store.rewrite(&path).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(files(&path), 2);
        assert!(store.document("DA-2024-000001").unwrap().is_none());
        let erased = b"form of DA-2024-000001";
        for entry in crate::store::rewrite::walk(dir.path()).unwrap() {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bytes.windows(erased.len()).any(|w| w == erased),
                "{entry:?}"
            );
        }
        let kept = store.document("DA-2024-000002").unwrap().unwrap();
        assert_eq!(kept.pdf, b"%PDF-1.4 form of DA-2024-000002");
    }

    /// A backup carries the blobs; restored elsewhere, they read back.
    #[test]
    fn backup_and_restore_carry_the_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup");
        let c = commit("m1", "DA-2024-000001", State::Queued);
        {
            let store = Store::open(&dir.path().join("a")).unwrap();
            store.commit(&c).unwrap();
            store.backup(&file).unwrap();
        }
        let other = dir.path().join("b");
        let store = Store::open(&other).unwrap();
        store
            .commit(&commit("x", "DA-2024-000009", State::Queued))
            .unwrap();
        store.restore(&file).unwrap();
        assert_eq!(files(&other), 3, "the replaced content's files are gone");
        assert_eq!(
            store.document("DA-2024-000001").unwrap().unwrap(),
            c.documents[0].1
        );
        let (_, q) = store.next_due_outgoing(None, Utc::now()).unwrap().unwrap();
        assert_eq!(q.mail.raw, c.outgoing[0].raw);
    }
}
