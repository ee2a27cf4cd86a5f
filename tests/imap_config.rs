//! The README's examples for a real mailbox (IMAP 993 implicit TLS, SMTP 587
//! STARTTLS, passwords as systemd credentials; OAuth 2.0 for Microsoft 365
//! and Google Workspace) load and build both adapters. Its own binary: it sets `CREDENTIALS_DIRECTORY` for the process.

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

/// The process's `$CREDENTIALS_DIRECTORY`, one for every test here (the
/// environment is the process's, and tests run in parallel).
fn credentials() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("CREDENTIALS_DIRECTORY", dir.path());
        dir
    })
    .path()
}

#[test]
fn the_readme_example_loads_and_builds_both_adapters() {
    let dir = credentials();
    std::fs::write(dir.join("imap"), "imap-secret\n").unwrap();
    std::fs::write(dir.join("smtp"), "smtp-secret\n").unwrap();
    let file = dir.join("guichet.toml");
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

/// Kept identical to the README's Microsoft 365 and Google Workspace
/// sections (the `[oauth2]` part; the refresh token file is made here).
const MICROSOFT: &str = r#"
[imap]
host = "outlook.office365.com"
port = 993
tls = "implicit"
auth = "oauth2"
username = "acces@organisme.example"

[smtp]
host = "smtp.office365.com"
port = 587
tls = "starttls"
auth = "oauth2"
username = "acces@organisme.example"

[oauth2]
mechanism = "xoauth2"
grant = "client_credentials"
token_url = "https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token"
client_id = "<client-id>"
client_secret_file = "oauth2-secret"
scope = "https://outlook.office365.com/.default"
"#;

const GOOGLE_OAUTH2: &str = r#"
[oauth2]
mechanism = "oauthbearer"
grant = "refresh_token"
token_url = "https://oauth2.googleapis.com/token"
client_id = "<client-id>.apps.googleusercontent.com"
client_secret_file = "oauth2-secret"
scope = "https://mail.google.com/"
refresh_token_file = "oauth2-refresh"
"#;

#[test]
fn the_readme_oauth_examples_load_and_build_both_adapters() {
    use guichet::config::{Grant, SaslMechanism};
    use guichet::oauth2::TokenSource;
    let dir = credentials();
    std::fs::write(dir.join("oauth2-secret"), "s3cr3t\n").unwrap();
    std::fs::write(dir.join("oauth2-refresh"), "1//0g-refresh\n").unwrap();
    let file = dir.join("oauth.toml");
    let google = MICROSOFT[..MICROSOFT.find("[oauth2]").unwrap()].to_string() + GOOGLE_OAUTH2;
    for (text, grant, mechanism) in [
        (
            MICROSOFT.to_string(),
            Grant::ClientCredentials,
            SaslMechanism::Xoauth2,
        ),
        (google, Grant::RefreshToken, SaslMechanism::Oauthbearer),
    ] {
        std::fs::write(&file, text).unwrap();
        let settings = Settings::load_with_env(Some(&file), Vec::new()).unwrap();
        let oauth2 = settings.oauth2.as_ref().unwrap();
        assert_eq!((oauth2.grant, oauth2.mechanism), (grant, mechanism));
        let tokens = TokenSource::from_settings(&settings).unwrap();
        assert!(tokens.is_some());
        ImapMailbox::with_tokens(
            settings.imap.as_ref().unwrap(),
            tokens.clone(),
            settings.intake.max_message_bytes,
            Box::new(MemoryCursor::default()),
            Default::default(),
        )
        .unwrap();
        SmtpTransport::with_tokens(
            settings.smtp.as_ref().unwrap(),
            tokens,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    }
}
