//! A token endpoint on loopback for the OAuth tests: both grants
//! (client_credentials, refresh_token with rotation), tokens that are
//! JWTs signed HS256 with the key Dovecot validates them with, short
//! lifetimes, and a count of what it handed out. A tiny HTTP/1.1 server on
//! `std::net`, one request per connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use sha2::{Digest, Sha256};

/// The OAuth client the tests configure.
pub const CLIENT_ID: &str = "guichet-test";
pub const CLIENT_SECRET: &str = "client-secret-for-tests";

/// What the endpoint did.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub client_credentials: u32,
    pub refresh_token: u32,
    pub refused: u32,
}

struct State {
    key: Vec<u8>,
    user: String,
    lifetime: Duration,
    /// What `expires_in` says (a provider may revoke a token before).
    announced: Duration,
    refresh: String,
    rotations: u32,
    counts: Counts,
}

pub struct TokenServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    /// Serves tokens for `user` signed with `key`, valid `lifetime`.
    pub fn start(key: &[u8], user: &str, lifetime: Duration) -> TokenServer {
        Self::start_announcing(key, user, lifetime, lifetime)
    }

    /// As `start`, with `expires_in` saying `announced` (longer than the
    /// token really lasts: the server then refuses a token the client
    /// still believes good).
    pub fn start_announcing(
        key: &[u8],
        user: &str,
        lifetime: Duration,
        announced: Duration,
    ) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("token endpoint binds");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            key: key.to_vec(),
            user: user.to_string(),
            lifetime,
            announced,
            refresh: "rt-0".into(),
            rotations: 0,
            counts: Counts::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, halt) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve(conn, &s);
                }
            }
        });
        TokenServer { port, state, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn counts(&self) -> Counts {
        self.state.lock().unwrap().counts.clone()
    }

    /// The refresh token the endpoint takes now (the last one it issued).
    pub fn current_refresh_token(&self) -> String {
        self.state.lock().unwrap().refresh.clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut length = 0usize;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let post = line.starts_with("POST /token ");
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let form = parse_form(&String::from_utf8_lossy(&body));
    let (status, json) = if post {
        answer(&form, &mut state.lock().unwrap())
    } else {
        (404, r#"{"error":"not_found"}"#.to_string())
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    conn.flush()
}

fn answer(form: &HashMap<String, String>, s: &mut State) -> (u16, String) {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID {
        s.counts.refused += 1;
        return (401, r#"{"error":"invalid_client"}"#.into());
    }
    let rotated = match get("grant_type") {
        "client_credentials" if get("client_secret") == CLIENT_SECRET => {
            s.counts.client_credentials += 1;
            None
        }
        "refresh_token" if get("refresh_token") == s.refresh => {
            s.counts.refresh_token += 1;
            s.rotations += 1;
            s.refresh = format!("rt-{}", s.rotations);
            Some(s.refresh.clone())
        }
        _ => {
            s.counts.refused += 1;
            return (
                400,
                r#"{"error":"invalid_grant","error_description":"no such grant or refresh token"}"#
                    .into(),
            );
        }
    };
    let token = jwt(&s.key, &s.user, s.lifetime);
    let refresh = rotated
        .map(|r| format!(r#","refresh_token":"{r}""#))
        .unwrap_or_default();
    (
        200,
        format!(
            r#"{{"token_type":"Bearer","expires_in":{},"access_token":"{token}"{refresh}}}"#,
            s.announced.as_secs()
        ),
    )
}

fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JWT (HS256) for `user` in the `email` claim, valid `lifetime` from now.
pub fn jwt(key: &[u8], user: &str, lifetime: Duration) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = b64.encode(r#"{"alg":"HS256","typ":"JWT","kid":"default"}"#);
    let claims = b64.encode(format!(
        r#"{{"sub":"{user}","email":"{user}","iat":{now},"nbf":{now},"exp":{}}}"#,
        now + lifetime.as_secs()
    ));
    let signed = format!("{header}.{claims}");
    let signature = b64.encode(hmac_sha256(key, signed.as_bytes()));
    format!("{signed}.{signature}")
}

/// HMAC-SHA256 (RFC 2104) over sha2.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
