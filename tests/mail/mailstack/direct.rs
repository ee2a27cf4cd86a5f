//! What happens beside Postfix: mail put straight into a mailbox (as
//! another MX would deliver it while this one is down), and a look at
//! Postfix's queue.

use std::process::Command;

use super::MailStack;

impl MailStack {
    /// Puts `raw` into `user`'s `folder` with IMAP APPEND, bypassing Postfix.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        let mut session = self.imap_session(user).await;
        session
            .append(folder, None, None, raw)
            .await
            .expect("IMAP APPEND");
        let _ = session.logout().await;
    }

    /// What Postfix still holds, one JSON line per message (empty when
    /// everything was delivered or refused), or why the queue could not
    /// be read.
    pub fn postfix_queue(&self) -> Result<String, String> {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(self.postfix_dir())
            .arg("-j")
            .output()
            .expect("postqueue runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Asks Postfix to try every deferred message now rather than at its
    /// next scheduled retry.
    pub fn flush_postfix_queue(&self) {
        let status = Command::new("postqueue")
            .arg("-c")
            .arg(self.postfix_dir())
            .arg("-f")
            .status()
            .expect("postqueue runs");
        assert!(status.success(), "postqueue -f: {status}");
    }
}

impl MailStack {
    /// Makes Dovecot forget `user`'s INBOX numbering, as a lost or
    /// rebuilt index does: Dovecot is stopped, the INBOX's UID list and
    /// indexes removed (the mail stays), and Dovecot started again, which
    /// gives the INBOX a new UIDVALIDITY and numbers from 1 again.
    pub fn forget_inbox_numbering(&mut self, user: &str) {
        let (local, domain) = user.split_once('@').expect("a full address");
        let maildir = self
            .dir()
            .join("mail")
            .join(domain)
            .join(local)
            .join("Maildir");
        self.stop_dovecot();
        for entry in std::fs::read_dir(&maildir)
            .expect("the user's Maildir")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "dovecot-uidlist"
                || name.starts_with("dovecot.index")
                || name.starts_with("dovecot.list.index")
            {
                std::fs::remove_file(entry.path()).expect("index file removed");
            }
        }
        self.start_dovecot();
    }
}
