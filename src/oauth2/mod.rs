//! Bearer tokens for providers that refuse passwords (Microsoft 365,
//! Google Workspace): the `[oauth2]` section's grant gives an access token,
//! kept and handed to IMAP and SMTP alike, renewed before it expires (at
//! 80 % of its lifetime), and dropped at once when a server turns it away.
//!
//! One `TokenSource` serves both adapters, so that one token is fetched for
//! both. Tokens and secrets live in `Secret`s; neither is ever logged.

pub mod sasl;
mod token;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::time::Instant;

use crate::config::{self, Grant, SaslMechanism, Secret};
pub use token::{parse_response, TokenError, TokenReply};

/// How long a token endpoint or a token command may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Lifetime assumed for a token whose issuer does not say (a command that
/// prints a bare token).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// Where access tokens come from, and the one in use.
pub struct TokenSource {
    grant: Grant,
    pub mechanism: SaslMechanism,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    scope: Option<String>,
    refresh_path: Option<PathBuf>,
    token_command: Option<PathBuf>,
    agent: ureq::Agent,
    state: tokio::sync::Mutex<State>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct State {
    token: Option<Held>,
    refresh: Option<Secret>,
}

struct Held {
    access: Secret,
    renew_at: Instant,
}

impl TokenSource {
    /// Reads what the grant needs now (client secret, refresh token), so
    /// that a missing file fails at start; fetches nothing yet.
    pub fn new(cfg: &config::OAuth2) -> Result<Arc<TokenSource>> {
        let tls = crate::net::tls::client_config(cfg.ca_file.as_deref()).context("oauth2")?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls)
            .timeout(FETCH_TIMEOUT)
            .redirects(0)
            .build();
        let refresh_path = cfg.refresh_token_path();
        let refresh = match (&refresh_path, cfg.grant) {
            (Some(path), Grant::RefreshToken) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("oauth2.refresh_token_file: cannot read {}", path.display())
                })?;
                let text = text.trim().to_string();
                anyhow::ensure!(
                    !text.is_empty(),
                    "oauth2.refresh_token_file: {} is empty",
                    path.display()
                );
                Some(Secret::new(text))
            }
            _ => None,
        };
        Ok(Arc::new(TokenSource {
            grant: cfg.grant,
            mechanism: cfg.mechanism,
            token_url: cfg.token_url.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret()?,
            scope: cfg.scope.clone(),
            refresh_path,
            token_command: cfg.token_command.clone(),
            agent,
            state: tokio::sync::Mutex::new(State {
                token: None,
                refresh,
            }),
            fetches: AtomicU64::new(0),
        }))
    }

    /// The settings' source when IMAP or SMTP signs in with OAuth 2.0.
    pub fn from_settings(settings: &config::Settings) -> Result<Option<Arc<TokenSource>>> {
        let used = settings
            .imap
            .as_ref()
            .is_some_and(|i| i.auth == config::ImapAuth::Oauth2)
            || settings
                .smtp
                .as_ref()
                .is_some_and(|s| s.auth == config::SmtpAuth::Oauth2);
        match (&settings.oauth2, used) {
            (Some(cfg), true) => Ok(Some(TokenSource::new(cfg)?)),
            _ => Ok(None),
        }
    }

    /// A token good for a while yet: the one held, or a new one when it is
    /// past 80 % of its lifetime or was turned away.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut state = self.state.lock().await;
        if let Some(held) = state.token.as_ref().filter(|h| Instant::now() < h.renew_at) {
            return Ok(held.access.clone());
        }
        let reply = self.fetch(state.refresh.clone()).await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        if let Some(rotated) = reply.refresh_token {
            if let Some(path) = &self.refresh_path {
                token::write_atomically(path, rotated.expose())
                    .map_err(|e| TokenError::File(format!("{}: {e}", path.display())))?;
                tracing::info!(file = %path.display(), "OAuth refresh token rotated and saved");
            }
            state.refresh = Some(rotated);
        }
        let lifetime = reply.expires_in.unwrap_or(DEFAULT_LIFETIME);
        tracing::info!(
            lifetime_s = lifetime.as_secs(),
            fetches = self.fetches(),
            "OAuth access token obtained"
        );
        state.token = Some(Held {
            access: reply.access_token.clone(),
            renew_at: Instant::now() + lifetime.mul_f64(0.8),
        });
        Ok(reply.access_token)
    }

    /// A server turned `used` away (expired, revoked): it is not offered
    /// again; the next `token` fetches a new one.
    pub async fn reject(&self, used: &Secret) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().is_some_and(|h| &h.access == used) {
            state.token = None;
        }
    }

    /// Tokens fetched since start.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    async fn fetch(&self, refresh: Option<Secret>) -> Result<TokenReply, TokenError> {
        if self.grant == Grant::Command {
            let program = self.token_command.clone().unwrap_or_default();
            return token::run_command(&program, FETCH_TIMEOUT).await;
        }
        let mut form: Vec<(&'static str, String)> = Vec::new();
        match self.grant {
            Grant::RefreshToken => {
                form.push(("grant_type", "refresh_token".into()));
                let refresh = refresh.ok_or_else(|| TokenError::File("no refresh token".into()))?;
                form.push(("refresh_token", refresh.expose().to_string()));
            }
            _ => form.push(("grant_type", "client_credentials".into())),
        }
        form.extend(self.client_id.clone().map(|c| ("client_id", c)));
        form.extend(
            self.client_secret
                .as_ref()
                .map(|s| ("client_secret", s.expose().to_string())),
        );
        form.extend(self.scope.clone().map(|s| ("scope", s)));
        let url = self.token_url.clone().unwrap_or_default();
        let agent = self.agent.clone();
        tokio::task::spawn_blocking(move || token::post_form(&agent, &url, &form))
            .await
            .map_err(|e| TokenError::Unreachable(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_source(dir: &std::path::Path, script: &str) -> Arc<TokenSource> {
        use std::os::unix::fs::PermissionsExt;
        let program = dir.join("token");
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        TokenSource::new(&config::OAuth2::command(program)).unwrap()
    }

    #[tokio::test]
    async fn a_token_is_kept_until_rejected_then_fetched_anew() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let script = format!(
            "#!/bin/sh\necho x >> {c}\necho \"tok-$(wc -l < {c} | tr -d ' ')\"\n",
            c = count.display()
        );
        let source = command_source(dir.path(), &script);
        let first = source.token().await.unwrap();
        assert_eq!(first.expose(), "tok-1");
        assert_eq!(source.token().await.unwrap(), first, "kept while fresh");
        assert_eq!(source.fetches(), 1);
        source.reject(&Secret::new("another".into())).await;
        assert_eq!(
            source.token().await.unwrap(),
            first,
            "only the one used is dropped"
        );
        source.reject(&first).await;
        assert_eq!(source.token().await.unwrap().expose(), "tok-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn a_failing_command_is_an_error_that_shows_no_output() {
        let dir = tempfile::tempdir().unwrap();
        let source = command_source(dir.path(), "#!/bin/sh\necho secret-ish >&2\nexit 3\n");
        let err = source.token().await.unwrap_err();
        assert!(matches!(err, TokenError::Command(_)), "{err}");
        assert!(!err.to_string().contains("secret-ish"), "{err}");
    }
}
