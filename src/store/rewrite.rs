//! Rewriting the database so that erased data is gone from the disk too.
//!
//! sled is log-structured: a removed or overwritten value stays in its
//! segment files until sled reclaims the space, which may be never for a
//! small database. After an erasure the store is therefore copied, key by
//! key, into a fresh database beside it, which then takes the old one's
//! place (an atomic exchange of the two directories); the old files are
//! overwritten with zeros and removed.
//!
//! A gate file (`guichet.lock` in the database directory) keeps other
//! processes out while the directories change hands: `Store::open` holds
//! it while sled opens, and the rewrite holds it from before it lets go of
//! the old database until the new one is in place. A crash midway leaves
//! either the old database in place with a partial copy beside it, or the
//! new one in place with the old beside it: the next rewrite removes the
//! leftover first.
//!
//! The blobs (see `blobs`) are not copied: their directory moves from the
//! old database to the new one once the exchange is done. Should the
//! process stop in between, the next opening moves it ([`recover_blobs`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use super::{blobs, Store};

const GATE: &str = "guichet.lock";
/// How long the rewrite waits for other processes to let go.
const PATIENCE: Duration = Duration::from_secs(60);

/// Takes the gate of the database at `path` if no rewrite holds it. The
/// error says "lock", so that `Store::open_waiting` waits and tries again.
pub(super) fn gate(path: &Path) -> Result<File> {
    std::fs::create_dir_all(path)
        .with_context(|| format!("cannot create the store at {}", path.display()))?;
    // A lock needs no write access: a gate another user created (root
    // running a command) is still usable by the daemon's user.
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join(GATE))
        .or_else(|_| File::open(path.join(GATE)))
        .with_context(|| format!("cannot open {}", path.join(GATE).display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow!(
            "the store's gate lock is held: it is being rewritten"
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// The database directory beside `path` that a rewrite writes.
fn fresh_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a store directory", path.display()))?;
    Ok(path.with_file_name(format!("{}.rewrite", name.to_string_lossy())))
}

/// Gives back the blobs a rewrite stopped between the exchange and their
/// move left in the old database's directory. Called with the gate held.
pub(super) fn recover_blobs(path: &Path) -> Result<()> {
    let here = path.join(blobs::DIR);
    let left = fresh_path(path)?.join(blobs::DIR);
    if !here.exists() && left.exists() {
        std::fs::rename(&left, &here)?;
        File::open(path)?.sync_all()?;
    }
    Ok(())
}

/// Retries `attempt` until it succeeds or `PATIENCE` runs out.
fn patiently<T>(what: &str, mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, what, "waiting");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.context(format!("gave up waiting for {what}"))),
        }
    }
}

/// Waits until no one (our own sled threads included) holds sled's lock
/// on the database at `dir`.
fn until_released(dir: &Path) -> Result<()> {
    let db_file = dir.join("db");
    if !db_file.exists() {
        return Ok(());
    }
    patiently("sled to let go of its files", || {
        let file = File::options().write(true).open(&db_file)?;
        file.try_lock()
            .map_err(|e| anyhow!("{}: {e}", db_file.display()))?;
        Ok(())
    })
}

/// Overwrites every file under `dir` with zeros, then removes it.
fn shred(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in walk(dir)? {
        blobs::zero(&entry)?;
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
}

pub(super) fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(walk_all(dir)?.into_iter().filter(|p| p.is_file()).collect())
}

/// Gives the fresh database the old one's owner and directory mode: an
/// operator running `guichet purge` as root beside a daemon that runs as
/// its own user must not leave it a store it cannot open.
fn same_owner(fresh: &Path, old: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(old)?;
    std::fs::set_permissions(fresh, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    let mine = std::fs::metadata(fresh)?;
    if (mine.uid(), mine.gid()) == (meta.uid(), meta.gid()) {
        return Ok(());
    }
    let mut paths = walk_all(fresh)?;
    paths.push(fresh.to_path_buf());
    for p in paths {
        std::os::unix::fs::chown(&p, Some(meta.uid()), Some(meta.gid()))
            .with_context(|| format!("cannot give {} to the store's owner", p.display()))?;
    }
    Ok(())
}

/// Every file and directory under `dir`.
fn walk_all(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk_all(&path)?);
        }
        out.push(path);
    }
    Ok(out)
}

/// Swaps two directories in one step where the system can (Linux
/// `renameat2(RENAME_EXCHANGE)`), else in two renames.
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, relative to the working directory.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let aside = a.with_extension("swap");
    std::fs::rename(a, &aside)?;
    std::fs::rename(b, a)?;
    std::fs::rename(&aside, b)?;
    Ok(())
}

impl Store {
    /// Copies every tree into a fresh database that replaces this one at
    /// `path` (the directory it was opened from), so that nothing erased
    /// remains in sled's old segments. Consumes the store: open it again
    /// to go on. Returns the number of entries copied.
    pub fn rewrite(self, path: &Path) -> Result<u64> {
        let fresh_path = fresh_path(path)?;
        shred(&fresh_path)?;
        self.db.flush()?;
        let held_gate = patiently("the store's gate", || gate(path))?;
        let fresh = sled::Config::new().path(&fresh_path).open()?;
        let mut entries = 0;
        // Outgoing messages are keyed by sled's id generator, which a new
        // database starts again: they get new ids, in the same order.
        let mut queued: Vec<(Vec<u8>, &str, sled::IVec)> = Vec::new();
        for tree_name in self.db.tree_names() {
            let tree = self.db.open_tree(&tree_name)?;
            let copy = fresh.open_tree(&tree_name)?;
            for item in tree.iter() {
                let (k, v) = item?;
                match tree_name.as_ref() {
                    b"outbox" => queued.push((k.to_vec(), "outbox", v)),
                    b"failed" => queued.push((k.to_vec(), "failed", v)),
                    _ => {
                        copy.insert(k, v)?;
                    }
                }
                entries += 1;
            }
        }
        queued.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, tree, value) in queued {
            let id = fresh.generate_id()?;
            fresh.open_tree(tree)?.insert(id.to_be_bytes(), value)?;
        }
        fresh.flush()?;
        drop(fresh);
        until_released(&fresh_path)?;
        same_owner(&fresh_path, path)?;
        drop(self);
        until_released(path)?;
        exchange(path, &fresh_path)?;
        std::fs::rename(fresh_path.join(blobs::DIR), path.join(blobs::DIR))?;
        File::open(path)?.sync_all()?;
        File::open(&fresh_path)?.sync_all()?;
        drop(held_gate);
        shred(&fresh_path)?;
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(path: &Path, secret: &[u8]) -> usize {
        let files = walk(path).unwrap();
        assert!(!files.is_empty());
        files
            .iter()
            .filter(|f| {
                let bytes = std::fs::read(f).unwrap();
                bytes.windows(secret.len()).any(|w| w == secret)
            })
            .count()
    }

    #[test]
    fn a_rewrite_keeps_every_entry_and_leaves_no_removed_byte_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let secret = b"valerie.martel@dentaire.example";
        {
            let store = Store::open(&path).unwrap();
            store.meta_set("kept", b"still here").unwrap();
            store.meta_set("gone", secret).unwrap();
            store.meta.remove("gone").unwrap();
            store.flush().unwrap();
            assert!(on_disk(&path, secret) > 0, "sled keeps what it removed");
            store.rewrite(&path).unwrap();
        }
        assert_eq!(on_disk(&path, secret), 0, "gone from every file");
        assert!(!dir.path().join("db.rewrite").exists());
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.meta_get("kept").unwrap().as_deref(),
            Some(&b"still here"[..])
        );
        assert_eq!(store.meta_get("gone").unwrap(), None);
    }
}
