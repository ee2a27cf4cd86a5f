//! The README's example for a real mailbox (IMAP 993 implicit TLS, SMTP 587
//! STARTTLS, passwords as systemd credentials) loads and builds both
//! adapters. Its own binary: it sets `CREDENTIALS_DIRECTORY` for the process.

use guichet::config::{Settings, Tls};
use guichet::intake::imap::{ImapMailbox, MemoryCursor};
use guichet::outbox::smtp::SmtpTransport;

/// Kept identical to the README section "Pointing guichet at a real mailbox".
const README_EXAMPLE: &str = r#"
[intake]
address = "acces@organisme.example"

[imap]
host = "imap.fournisseur.example"
port = 993
tls = "implicit"
username = "acces@organisme.example"
password_file = "imap"          # systemd: LoadCredential=imap:...
mailbox = "INBOX"
processed_folder = "Traité"
quarantine_folder = "Quarantaine"

[smtp]
host = "smtp.fournisseur.example"
port = 587
tls = "starttls"
username = "acces@organisme.example"
password_file = "smtp"          # systemd: LoadCredential=smtp:...
"#;

#[test]
fn the_readme_example_loads_and_builds_both_adapters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("imap"), "imap-secret\n").unwrap();
    std::fs::write(dir.path().join("smtp"), "smtp-secret\n").unwrap();
    std::env::set_var("CREDENTIALS_DIRECTORY", dir.path());
    let file = dir.path().join("guichet.toml");
    std::fs::write(&file, README_EXAMPLE).unwrap();

    let settings = Settings::load_with_env(Some(&file), Vec::new()).unwrap();
    let imap = settings.imap.expect("an [imap] section");
    assert_eq!((imap.port, imap.tls), (993, Tls::Implicit));
    assert_eq!(imap.processed_folder, "Traité");
    let smtp = settings.smtp.expect("an [smtp] section");
    assert_eq!((smtp.port, smtp.tls), (587, Tls::Starttls));

    ImapMailbox::new(
        &imap,
        settings.intake.max_message_bytes,
        Box::new(MemoryCursor::default()),
    )
    .unwrap();
    SmtpTransport::new(&smtp).unwrap();

    // Folder names have defaults.
    std::fs::write(
        &file,
        README_EXAMPLE.replace("processed_folder = \"Traité\"\n", ""),
    )
    .unwrap();
    let settings = Settings::load_with_env(Some(&file), Vec::new()).unwrap();
    assert_eq!(settings.imap.unwrap().processed_folder, "Traité");
}
