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
