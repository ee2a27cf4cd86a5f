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

    /// Whether Postfix holds no mail (everything delivered or refused).
    pub fn postfix_queue_is_empty(&self) -> bool {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(self.postfix_dir())
            .arg("-j")
            .output()
            .expect("postqueue runs");
        out.status.success() && out.stdout.iter().all(u8::is_ascii_whitespace)
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
