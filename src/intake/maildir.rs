//! The built-in intake: a Maildir (`new/`, `cur/`, `tmp/`). A message is
//! taken from `new/` and moved to `cur/` only once its effects are
//! committed; a message set aside goes to the `.Quarantaine` sub-folder.
//! A backlog streams: `new/` is listed once, then read one file at a time,
//! so memory does not grow with the number waiting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::{Disposition, Incoming, Mailbox};

pub struct Maildir {
    root: PathBuf,
    max_bytes: u64,
    /// Names listed in `new/`, in arrival order, not yet handed out.
    listed: std::collections::VecDeque<String>,
}

/// Maildir sub-folder for messages that could not be handled.
pub const QUARANTINE: &str = ".Quarantaine";

impl Maildir {
    /// Opens (and creates if needed) the Maildir at `root`.
    pub fn open(root: &Path, max_bytes: u64) -> Result<Maildir> {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("cannot create {}", root.join(sub).display()))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            max_bytes,
            listed: Default::default(),
        })
    }

    fn destination(&self, key: &str, disposition: &Disposition) -> PathBuf {
        // Maildir info suffix: `:2,S` marks the message seen.
        let base = key.split(":2,").next().unwrap_or(key);
        match disposition {
            Disposition::Processed => self.root.join("cur").join(format!("{base}:2,S")),
            Disposition::Quarantine(_) => self
                .root
                .join(QUARANTINE)
                .join("cur")
                .join(format!("{base}:2,S")),
        }
    }
}

/// The header section of a message file, at most `HEADER_BYTES` long:
/// enough to answer the sender of a message too large to read.
fn header_section(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(HEADER_BYTES)
        .read_to_end(&mut head)?;
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(head.len());
    head.truncate(end);
    Ok(head)
}

/// Longest header section read from an oversized message.
const HEADER_BYTES: u64 = 64 * 1024;

/// A Maildir name starts with the delivery time in seconds
/// (`1731917040.M0P1.host`); failing that, the file's modification time.
fn delivery_time(name: &str, path: &Path) -> DateTime<Utc> {
    let from_name = name
        .split('.')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    from_name
        .or_else(|| {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .map(DateTime::<Utc>::from)
        })
        .unwrap_or_else(Utc::now)
}

impl Mailbox for Maildir {
    async fn next(&mut self) -> Result<Option<Incoming>> {
        if self.listed.is_empty() {
            let mut names: Vec<String> = std::fs::read_dir(self.root.join("new"))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect();
            // Maildir names start with the delivery time: sorting gives arrival order.
            names.sort();
            self.listed = names.into();
        }
        while let Some(key) = self.listed.pop_front() {
            let path = self.root.join("new").join(&key);
            // Gone since the listing (another reader, an operator): skip it.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let oversized = meta.len() > self.max_bytes;
            let bytes = if oversized {
                header_section(&path)?
            } else {
                std::fs::read(&path)?
            };
            let received_at = delivery_time(&key, &path);
            return Ok(Some(Incoming {
                key,
                bytes,
                oversized,
                received_at,
            }));
        }
        Ok(None)
    }

    async fn settle(&mut self, key: &str, disposition: Disposition) -> Result<()> {
        let from = self.root.join("new").join(key);
        let to = self.destination(key, &disposition);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(&from, &to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
    }

    async fn wait(&mut self, max: Duration) -> Result<()> {
        // Polling a local folder is cheap; a short step keeps the desk responsive.
        let step = Duration::from_millis(500);
        let deadline = tokio::time::Instant::now() + max;
        while tokio::time::Instant::now() < deadline {
            let waiting = std::fs::read_dir(self.root.join("new"))?.next().is_some();
            if waiting {
                return Ok(());
            }
            tokio::time::sleep(step.min(max)).await;
        }
        Ok(())
    }

    async fn forget(&mut self, message_ids: &[String]) -> Result<usize> {
        self.remove_kept(message_ids)
    }
}

impl Maildir {
    /// Removes the files of `cur/` and the quarantine whose Message-ID (as
    /// the desk read it, a made-up one for mail without) is one of these.
    fn remove_kept(&self, message_ids: &[String]) -> Result<usize> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let wanted: std::collections::HashSet<&str> =
            message_ids.iter().map(String::as_str).collect();
        let mut removed = 0;
        for folder in [
            self.root.join("cur"),
            self.root.join(QUARANTINE).join("cur"),
            self.root.join(QUARANTINE).join("new"),
        ] {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries {
                let path = entry?.path();
                if !path.is_file() {
                    continue;
                }
                let bytes = std::fs::read(&path)?;
                let Ok(sub) = crate::message::parse(&bytes, "") else {
                    continue;
                };
                if wanted.contains(sub.message_id.as_str()) {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_messages_in_arrival_order_and_moves_them_once_settled() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path(), 10).unwrap();
        std::fs::write(dir.path().join("new/200.M1.h"), b"second").unwrap();
        std::fs::write(dir.path().join("new/100.M1.h:2,"), b"first").unwrap();
        std::fs::write(
            dir.path().join("new/300.M1.h"),
            b"From: a@b.example\n\nfar too large",
        )
        .unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(md.next().await.unwrap().expect("three wait"));
        }
        let keys: Vec<_> = got.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["100.M1.h:2,", "200.M1.h", "300.M1.h"]);
        assert_eq!(got[0].bytes, b"first");
        assert!(got[2].oversized);
        assert_eq!(got[2].bytes, b"From: a@b.example\n\n");
        assert_eq!(got[0].received_at.timestamp(), 100);
        md.settle("100.M1.h:2,", Disposition::Processed)
            .await
            .unwrap();
        md.settle("300.M1.h", Disposition::Quarantine("too large".into()))
            .await
            .unwrap();
        assert!(dir.path().join("cur/100.M1.h:2,S").exists());
        assert!(dir.path().join(".Quarantaine/cur/300.M1.h:2,S").exists());
        // The one not settled comes again, once the listing is renewed.
        assert_eq!(md.next().await.unwrap().unwrap().key, "200.M1.h");
    }

    #[tokio::test]
    async fn a_backlog_comes_one_message_at_a_time_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path(), 1000).unwrap();
        let total = 35;
        for i in 0..total {
            std::fs::write(dir.path().join(format!("new/{}.M1.h", 1000 + i)), b"x").unwrap();
        }
        let mut seen = Vec::new();
        while let Some(m) = md.next().await.unwrap() {
            md.settle(&m.key, Disposition::Processed).await.unwrap();
            seen.push(m.received_at.timestamp());
            // A file removed behind its back is skipped, not an error.
            if seen.len() == 16 {
                std::fs::remove_file(dir.path().join(format!("new/{}.M1.h", 1000 + total - 1)))
                    .unwrap();
            }
        }
        let expected: Vec<i64> = (0..total as i64 - 1).map(|i| 1000 + i).collect();
        assert_eq!(seen, expected);
    }
}
