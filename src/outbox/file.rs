//! The built-in transport: each message becomes `<id>.eml` in a folder,
//! written to a temporary name first so a reader never sees half a file,
//! and made durable (the file, then the folder that names it) before the
//! store is told it was sent: a crash never loses a reply counted sent.

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
}
