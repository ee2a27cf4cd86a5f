//! The token endpoint's answer (RFC 6749 §5), the token command, and the
//! refresh token written back when the provider rotates it. Errors say what
//! went wrong (`invalid_client`, exit status) and never carry a secret.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Secret;

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The endpoint answered with an OAuth error (`invalid_grant`…).
    #[error("token endpoint refused: {0}")]
    Refused(String),
    /// No answer (connection, TLS, timeout, HTTP error without OAuth error).
    #[error("token endpoint unreachable: {0}")]
    Unreachable(String),
    /// The answer is not a token response.
    #[error("token endpoint answer not understood: {0}")]
    Malformed(String),
    #[error("token command failed: {0}")]
    Command(String),
    #[error("refresh token file: {0}")]
    File(String),
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct TokenReply {
    pub access_token: Secret,
    pub expires_in: Option<Duration>,
    /// A new refresh token when the provider rotates it.
    pub refresh_token: Option<Secret>,
}

#[derive(Deserialize)]
struct Success {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct Failure {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Reads a token endpoint's JSON body: a token, or the OAuth error.
/// `expires_in` may be a number or a string (some providers quote it).
pub fn parse_response(body: &str) -> Result<TokenReply, TokenError> {
    if let Ok(ok) = serde_json::from_str::<Success>(body) {
        if ok.access_token.is_empty() {
            return Err(TokenError::Malformed("empty access_token".into()));
        }
        let expires_in = ok
            .expires_in
            .and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .map(Duration::from_secs);
        return Ok(TokenReply {
            access_token: Secret::new(ok.access_token),
            expires_in,
            refresh_token: ok.refresh_token.filter(|r| !r.is_empty()).map(Secret::new),
        });
    }
    match serde_json::from_str::<Failure>(body) {
        Ok(f) => {
            // Descriptions are the provider's words (Entra adds trace ids);
            // the first line is enough.
            let description = f
                .error_description
                .as_deref()
                .and_then(|d| d.lines().next())
                .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            Err(TokenError::Refused(format!("{}{description}", f.error)))
        }
        Err(_) => Err(TokenError::Malformed(format!(
            "{} bytes without access_token",
            body.len()
        ))),
    }
}

/// POSTs the form to the token endpoint (blocking: run off the runtime).
pub fn post_form(
    agent: &ureq::Agent,
    url: &str,
    form: &[(&'static str, String)],
) -> Result<TokenReply, TokenError> {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match agent
        .post(url)
        .set("Accept", "application/json")
        .send_form(&pairs)
    {
        Ok(answer) => {
            let body = answer
                .into_string()
                .map_err(|e| TokenError::Unreachable(e.to_string()))?;
            parse_response(&body)
        }
        Err(ureq::Error::Status(code, answer)) => {
            let body = answer.into_string().unwrap_or_default();
            match parse_response(&body) {
                Err(TokenError::Refused(why)) => Err(TokenError::Refused(why)),
                _ => Err(TokenError::Unreachable(format!("HTTP {code}"))),
            }
        }
        Err(ureq::Error::Transport(t)) => Err(TokenError::Unreachable(t.to_string())),
    }
}

/// Runs the token command: its standard output is the access token, or a
/// token endpoint's JSON (then its `expires_in` counts). Its output is
/// never shown, even when it fails.
pub async fn run_command(program: &Path, limit: Duration) -> Result<TokenReply, TokenError> {
    let run = tokio::process::Command::new(program)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| TokenError::Command(format!("no token within {}s", limit.as_secs())))?
        .map_err(|e| TokenError::Command(format!("{}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(TokenError::Command(format!(
            "{} exited with {}",
            program.display(),
            out.status
        )));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| TokenError::Command("output is not UTF-8".into()))?;
    let text = text.trim();
    if text.starts_with('{') {
        return parse_response(text);
    }
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err(TokenError::Command("output is not one access token".into()));
    }
    Ok(TokenReply {
        access_token: Secret::new(text.to_string()),
        expires_in: None,
        refresh_token: None,
    })
}

/// Replaces `path` with `value` so that a crash leaves the old token or
/// the new one, never half of one: a temporary file beside it (mode 0600),
/// written and synced, renamed over it, then the directory synced.
pub fn write_atomically(path: &Path, value: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(value.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_microsoft_and_google_are_read() {
        let ms = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAi"}"#;
        let t = parse_response(ms).unwrap();
        assert_eq!(t.access_token.expose(), "eyJ0eXAi");
        assert_eq!(t.expires_in, Some(Duration::from_secs(3599)));
        assert!(t.refresh_token.is_none());
        let rotated = r#"{"access_token":"ya29.a0","expires_in":"3600","refresh_token":"1//0g","scope":"https://mail.google.com/"}"#;
        let t = parse_response(rotated).unwrap();
        assert_eq!(t.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(t.refresh_token.unwrap().expose(), "1//0g");
    }

    #[test]
    fn oauth_errors_are_told_without_the_body() {
        let e = parse_response(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            TokenError::Refused(
                "invalid_client (AADSTS7000215: Invalid client secret provided.)".into()
            )
        );
        let e = parse_response("<html>secret</html>").unwrap_err();
        assert!(matches!(e, TokenError::Malformed(_)) && !e.to_string().contains("secret"));
    }

    #[test]
    fn a_rotated_token_replaces_the_file_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("oauth2-refresh");
        std::fs::write(&f, "old\n").unwrap();
        write_atomically(&f, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new\n");
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
