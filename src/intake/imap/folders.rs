//! Where the processed and quarantine folders go on a given server: under
//! its personal namespace (RFC 2342 `NAMESPACE`; `INBOX.` on Cyrus as
//! Debian ships it, Courier and many hosting providers), with its hierarchy
//! separator. A server without NAMESPACE gets its separator from
//! `LIST "" ""` and folders at the top.
//!
//! The parsing and the placing are pure; `ask` holds the one exchange
//! async-imap cannot parse (it has no NAMESPACE response), done on the
//! raw stream between two commands.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::stream::MailStream;

/// The personal namespace: prefix and hierarchy separator.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Personal {
    /// `""`, `"INBOX."`, `"INBOX/"`… (modified UTF-7, as on the wire).
    pub prefix: String,
    /// `None` for a flat server.
    pub separator: Option<char>,
}

impl Personal {
    /// The wire name of a folder named `folder` in the settings (modified
    /// UTF-7; `/` there separates levels): under the prefix unless it is
    /// already written with it, levels joined by the server's separator.
    pub fn place(&self, folder: &str) -> String {
        let inside = match self.separator {
            Some(sep) if sep != '/' => folder.replace('/', &sep.to_string()),
            _ => folder.to_string(),
        };
        let prefix = &self.prefix;
        let already = inside.len() >= prefix.len()
            && inside.is_char_boundary(prefix.len())
            && inside[..prefix.len()].eq_ignore_ascii_case(prefix);
        if prefix.is_empty() || already {
            inside
        } else {
            format!("{prefix}{inside}")
        }
    }
}

/// The personal namespace in a server's answer to NAMESPACE, e.g.
/// `* NAMESPACE (("INBOX." ".")) NIL NIL`; `None` when the answer has no
/// personal namespace or cannot be read.
pub fn parse_namespace(answer: &str) -> Option<Personal> {
    let line = answer
        .lines()
        .find_map(|l| l.strip_prefix("* NAMESPACE "))?
        .trim_start();
    let rest = line.strip_prefix("((")?;
    let (prefix, rest) = quoted(rest)?;
    let rest = rest.trim_start();
    let separator = if let Some(_nil) = rest.strip_prefix("NIL") {
        None
    } else {
        let (sep, _) = quoted(rest)?;
        let mut chars = sep.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => return None,
        }
    };
    Some(Personal { prefix, separator })
}

/// A quoted string at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 2..])),
            c => out.push(c),
        }
    }
    None
}

/// Whether a refusal of CREATE says the folder is there already: the
/// RFC 5530 code, or the words of servers without it (Cyrus: `Mailbox
/// already exists`; Courier, others: `Mailbox exists`).
pub fn already_exists(why: &str) -> bool {
    let t = why.to_ascii_lowercase();
    why.contains("[ALREADYEXISTS]") || t.contains("already exists") || t.contains("mailbox exists")
}

/// Sends NAMESPACE on the raw stream of a logged-in session with nothing
/// pending, and returns the server's whole answer up to its tagged line.
pub async fn ask(stream: &mut MailStream, limit: Duration) -> std::io::Result<String> {
    const TAG: &str = "GNS1";
    let exchange = async {
        stream
            .write_all(format!("{TAG} NAMESPACE\r\n").as_bytes())
            .await?;
        stream.flush().await?;
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&got);
            if got.ends_with(b"\r\n") && text.lines().any(|l| l.starts_with(&format!("{TAG} "))) {
                return Ok(text.into_owned());
            }
            if got.len() > 64 * 1024 {
                return Err(std::io::Error::other("NAMESPACE answer too long"));
            }
        }
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "NAMESPACE: no answer"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_of_the_usual_servers_are_read() {
        let cyrus = "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))\r\nGNS1 OK Completed\r\n";
        assert_eq!(
            parse_namespace(cyrus),
            Some(Personal {
                prefix: "INBOX.".into(),
                separator: Some('.')
            })
        );
        let dovecot = "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nGNS1 OK Namespace completed.\r\n";
        assert_eq!(
            parse_namespace(dovecot),
            Some(Personal {
                prefix: "".into(),
                separator: Some('/')
            })
        );
        let flat = "* NAMESPACE ((\"\" NIL)) NIL NIL\r\n";
        assert_eq!(parse_namespace(flat).unwrap().separator, None);
        assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL\r\n"), None);
        assert_eq!(parse_namespace("GNS1 BAD unknown command\r\n"), None);
        assert_eq!(parse_namespace("* NAMESPACE ((\"INBOX.\r\n"), None);
    }

    #[test]
    fn folders_go_under_the_personal_prefix_with_its_separator() {
        let cyrus = Personal {
            prefix: "INBOX.".into(),
            separator: Some('.'),
        };
        assert_eq!(cyrus.place("Trait&AOk-"), "INBOX.Trait&AOk-");
        assert_eq!(cyrus.place("INBOX.Quarantaine"), "INBOX.Quarantaine");
        assert_eq!(cyrus.place("inbox.Quarantaine"), "inbox.Quarantaine");
        assert_eq!(
            cyrus.place("guichet/Trait&AOk-"),
            "INBOX.guichet.Trait&AOk-"
        );
        let plain = Personal {
            prefix: String::new(),
            separator: Some('/'),
        };
        assert_eq!(plain.place("guichet/Quarantaine"), "guichet/Quarantaine");
        assert_eq!(Personal::default().place("Quarantaine"), "Quarantaine");
    }

    #[test]
    fn existing_folders_are_recognised_by_code_or_by_words() {
        assert!(already_exists(
            "[ALREADYEXISTS] Mailbox already exists (0.030 + 0.001 + 0.029 secs)."
        ));
        assert!(already_exists("Mailbox already exists"));
        assert!(already_exists("Mailbox exists."));
        assert!(!already_exists("[NOPERM] Permission denied"));
        assert!(!already_exists("Permission denied"));
    }
}
