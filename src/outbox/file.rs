//! The built-in transport: each message becomes `<id>.eml` in a folder,
//! written to a temporary name first so a reader never sees half a file,
//! and made durable (the file, then the folder that names it) before the
//! store is told it was sent: a crash never loses a reply counted sent.
//! The folder is personal data like any other copy: retention removes the
//! messages older than `retention.days`, and forgetting a person removes
//! those that name their address ([`forget_sent`]).

use std::path::{Path, PathBuf};

use super::{Outgoing, SendError, Transport};

pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: &Path) -> std::io::Result<FileTransport> {
        std::fs::create_dir_all(dir)?;
        Ok(FileTransport {
            dir: dir.to_path_buf(),
        })
    }
}

impl Transport for FileTransport {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let safe: String = mail
            .id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let tmp = self.dir.join(format!(".{safe}.tmp"));
        let path = self.dir.join(format!("{safe}.eml"));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&mail.raw)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| SendError::Server(format!("{}: {e}", path.display())))
    }
}

/// Which sent messages of the folder to remove.
pub enum Sent<'a> {
    /// Written at or before this time (retention's cut-off).
    WrittenBy(std::time::SystemTime),
    /// Naming this address anywhere (headers or text), case ignored.
    Naming(&'a str),
}

impl Sent<'_> {
    /// What retention removes `days` days after `now`'s cut-off.
    pub fn older_than(now: chrono::DateTime<chrono::Utc>, days: u32) -> Sent<'static> {
        let cutoff = now - chrono::TimeDelta::days(i64::from(days));
        Sent::WrittenBy(cutoff.into())
    }
}

/// Removes the `.eml` messages of `dir` that `which` picks; how many. A
/// folder that does not exist holds nothing.
pub fn forget_sent(dir: &Path, which: &Sent) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let gone = match which {
            Sent::WrittenBy(cutoff) => std::fs::metadata(&path)?.modified()? <= *cutoff,
            Sent::Naming(address) => {
                let needle = address.trim().to_ascii_lowercase();
                let text = std::fs::read(&path)?.to_ascii_lowercase();
                !needle.is_empty() && text.windows(needle.len()).any(|w| w == needle.as_bytes())
            }
        };
        if gone {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    if removed > 0 {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_one_eml_file_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let t = FileTransport::new(dir.path()).unwrap();
        let mail = Outgoing {
            id: "0001-ack/../x".into(),
            envelope_from: "acces@organisme.example".into(),
            to: vec!["a@b.example".into()],
            raw: b"Subject: hi\r\n\r\nbody".to_vec(),
        };
        t.send(&mail).await.unwrap();
        let written = std::fs::read(dir.path().join("0001-ack..x.eml")).unwrap();
        assert_eq!(written, mail.raw);
    }

    #[test]
    fn sent_messages_are_forgotten_by_age_or_by_address() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.eml", "To: Marie.Roy@clinique.example\r\n\r\nBonjour");
        write("b.eml", "To: autre@clinique.example\r\n\r\nBonjour");
        write("notes.txt", "marie.roy@clinique.example");
        let naming = Sent::Naming("marie.roy@clinique.example");
        assert_eq!(forget_sent(dir.path(), &naming).unwrap(), 1);
        assert!(!dir.path().join("a.eml").exists() && dir.path().join("notes.txt").exists());
        let long_ago = std::time::UNIX_EPOCH;
        assert_eq!(
            forget_sent(dir.path(), &Sent::WrittenBy(long_ago)).unwrap(),
            0
        );
        let now = std::time::SystemTime::now();
        assert_eq!(forget_sent(dir.path(), &Sent::WrittenBy(now)).unwrap(), 1);
        assert_eq!(forget_sent(&dir.path().join("none"), &naming).unwrap(), 0);
    }
}
