//! A throwaway mail system for integration tests: Dovecot (IMAP, LMTP) and
//! Postfix from Debian's packages, on loopback, on free high ports, with
//! every file in a temporary directory, torn down on drop.
//!
//! Each `MailStack` is independent, so tests may run in parallel. Mail sent
//! to `smtp_port` is accepted for the test domains only and delivered over
//! LMTP into Dovecot; anything else is refused with a 5xx, so nothing ever
//! leaves the machine. Needs root (Postfix and Dovecot drop privileges
//! themselves) and the `dovecot-imapd dovecot-lmtpd postfix openssl`
//! packages; the `vmail` system user is created when missing.
//!
//! Included as `mod mailstack;` by several test files, each of which uses
//! only part of it.
#![allow(dead_code)]

mod config_text;

use std::collections::HashSet;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_imap::Session;
use futures::TryStreamExt;
use guichet::config;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tempfile::TempDir;
use tokio::net::TcpStream as AsyncTcpStream;

/// The desk's intake mailbox.
pub const INTAKE: &str = "acces@organisme.example";
/// A staff member.
pub const STAFF: &str = "agent@organisme.example";
/// Applicants, at a domain of their own.
pub const APPLICANTS: [&str; 3] = [
    "applicant1@clinique.example",
    "applicant2@clinique.example",
    "applicant3@clinique.example",
];
/// The server whose `Authentication-Results` guichet trusts.
pub const AUTHSERV_ID: &str = "mx.organisme.example";
/// The processed folder's name on the wire (modified UTF-7 of `Traité`),
/// written out here so that tests check the adapter's encoding.
pub const PROCESSED_WIRE: &str = "Trait&AOk-";

/// Every user of the stack.
pub fn users() -> Vec<&'static str> {
    let mut all = vec![INTAKE, STAFF];
    all.extend(APPLICANTS);
    all
}

/// Each user's password: `pw-` and the local part.
pub fn password(user: &str) -> String {
    format!("pw-{}", user.split('@').next().unwrap_or(user))
}

/// What a test needs beyond the plain stack.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A private CA, a certificate for `127.0.0.1`/`localhost`, IMAPS and
    /// STARTTLS on Dovecot, STARTTLS, SMTPS and SASL (via Dovecot) on Postfix.
    pub tls: bool,
    /// Replaces the CAPABILITY Dovecot announces after login (to play a
    /// server without IDLE or MOVE).
    pub imap_capability: Option<String>,
}

/// Ports of one stack.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub imap: u16,
    pub imaps: u16,
    pub lmtp: u16,
    pub smtp: u16,
    pub smtps: u16,
    /// Authenticated submission (plain, loopback): mail from the
    /// organisation's domain gets `dmarc=pass` from `AUTHSERV_ID`.
    pub submission: u16,
}

/// A running Dovecot + Postfix.
pub struct MailStack {
    dir: TempDir,
    pub ports: Ports,
    pub options: Options,
    dovecot: Option<Child>,
    postfix_running: bool,
}

/// How long a daemon may take to open its ports.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl MailStack {
    pub fn start() -> MailStack {
        Self::start_with(Options::default())
    }

    /// Starts a stack; a start that fails (a port taken meanwhile by another
    /// process) is retried on new ports.
    pub fn start_with(options: Options) -> MailStack {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(options.clone()) {
                Ok(stack) => return stack,
                Err(why) => last = why,
            }
        }
        panic!("mail stack did not start: {last}");
    }

    fn try_start(options: Options) -> Result<MailStack, String> {
        let vmail = vmail_ids()?;
        let dir = tempfile::Builder::new()
            .prefix("guichet-mailstack-")
            .tempdir()
            .map_err(err)?;
        // Postfix and Dovecot's unprivileged processes must traverse it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).map_err(err)?;
        let ports = Ports {
            imap: free_port(),
            imaps: free_port(),
            lmtp: free_port(),
            smtp: free_port(),
            smtps: free_port(),
            submission: free_port(),
        };
        let mut stack = MailStack {
            dir,
            ports,
            options,
            dovecot: None,
            postfix_running: false,
        };
        if stack.options.tls {
            stack.make_certificates()?;
        }
        stack.write_dovecot_config(vmail)?;
        stack.write_postfix_config()?;
        stack.launch_dovecot()?;
        stack.launch_postfix()?;
        Ok(stack)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The private CA's certificate (TLS stacks only).
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("tls/ca.pem")
    }

    fn dovecot_conf(&self) -> PathBuf {
        self.dir().join("dovecot/dovecot.conf")
    }

    fn postfix_dir(&self) -> PathBuf {
        self.dir().join("postfix")
    }

    /// Settings for the adapter: plain IMAP on loopback, logged in as `user`.
    pub fn imap_config(&self, user: &str) -> config::Imap {
        config::Imap {
            host: "127.0.0.1".into(),
            port: self.ports.imap,
            tls: config::Tls::None,
            username: user.into(),
            password: Some(password(user)),
            password_file: None,
            mailbox: "INBOX".into(),
            ca_file: None,
            processed_folder: "Traité".into(),
            quarantine_folder: "Quarantaine".into(),
        }
    }

    /// Settings for IMAP over implicit TLS, trusting the stack's CA.
    pub fn imaps_config(&self, user: &str) -> config::Imap {
        config::Imap {
            port: self.ports.imaps,
            tls: config::Tls::Implicit,
            ca_file: Some(self.ca_file()),
            ..self.imap_config(user)
        }
    }

    /// Settings for the adapter: Postfix as a plain relay on loopback.
    pub fn smtp_config(&self) -> config::Smtp {
        config::Smtp {
            host: "127.0.0.1".into(),
            port: self.ports.smtp,
            tls: config::Tls::None,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
        }
    }

    /// Settings for authenticated submission with STARTTLS (TLS stacks).
    pub fn submission_config(&self, user: &str) -> config::Smtp {
        config::Smtp {
            tls: config::Tls::Starttls,
            username: Some(user.into()),
            password: Some(password(user)),
            ca_file: Some(self.ca_file()),
            ..self.smtp_config()
        }
    }

    /// The `[imap]` and `[smtp]` sections of a guichet configuration file
    /// pointing at this stack as the intake mailbox (plain, on loopback).
    pub fn config_toml(&self) -> String {
        format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{INTAKE}\"\n\
             password = \"{}\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            self.ports.imap,
            password(INTAKE),
            self.ports.smtp
        )
    }

    /// Sends a message through Postfix as a mail client would.
    pub async fn send(&self, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
        self.submit(self.ports.smtp, from, None, to, raw).await
    }

    /// Sends a message as `user`, logged in on the submission port as a
    /// staff member's mail client would: the organisation's MX vouches for
    /// it with an `Authentication-Results` header (`dmarc=pass`).
    pub async fn send_authenticated(
        &self,
        user: &str,
        to: &[&str],
        raw: &[u8],
    ) -> Result<(), String> {
        self.submit(self.ports.submission, user, Some(user), to, raw)
            .await
    }

    async fn submit(
        &self,
        port: u16,
        from: &str,
        login: Option<&str>,
        to: &[&str],
        raw: &[u8],
    ) -> Result<(), String> {
        let parse = |a: &str| a.parse::<Address>().map_err(err);
        let envelope = Envelope::new(
            Some(parse(from)?),
            to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?,
        )
        .map_err(err)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .timeout(Some(Duration::from_secs(10)));
        if let Some(user) = login {
            builder = builder.credentials(Credentials::new(user.into(), password(user)));
        }
        builder
            .build()
            .send_raw(&envelope, raw)
            .await
            .map(|_| ())
            .map_err(err)
    }

    /// Logs in as `user` over plain IMAP.
    pub async fn imap_session(&self, user: &str) -> Session<AsyncTcpStream> {
        let tcp = AsyncTcpStream::connect(("127.0.0.1", self.ports.imap))
            .await
            .expect("IMAP connect");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("IMAP greeting");
        client
            .login(user, password(user))
            .await
            .map_err(|(e, _)| e)
            .expect("IMAP login")
    }

    /// The messages of `user`'s `folder` (name as on the wire), in UID order.
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut session = self.imap_session(user).await;
        let messages = read_folder(&mut session, folder).await;
        let _ = session.logout().await;
        messages
    }

    /// Waits until `user`'s `folder` holds at least `count` messages.
    pub async fn wait_for_messages(
        &self,
        user: &str,
        folder: &str,
        count: usize,
        limit: Duration,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + limit;
        loop {
            let found = self.messages(user, folder).await;
            if found.len() >= count || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The names (as on the wire) of `user`'s folders.
    pub async fn folders(&self, user: &str) -> Vec<String> {
        let mut session = self.imap_session(user).await;
        let names = session.list(Some(""), Some("*")).await.expect("LIST");
        let names: Vec<_> = names.try_collect().await.expect("LIST answers");
        let _ = session.logout().await;
        names.iter().map(|n| n.name().to_string()).collect()
    }

    /// Runs `doveadm` against this stack's Dovecot; its output.
    pub fn doveadm(&self, args: &[&str]) -> String {
        let conf = self.dovecot_conf();
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&conf)
            .args(args)
            .output()
            .expect("doveadm runs");
        assert!(
            out.status.success(),
            "doveadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Gives `user`'s INBOX a new UIDVALIDITY, as a server migration would.
    pub fn set_uidvalidity(&self, user: &str, value: u32) {
        self.doveadm(&[
            "mailbox",
            "update",
            "-u",
            user,
            "--uid-validity",
            &value.to_string(),
            "INBOX",
        ]);
    }

    /// The INBOX's UIDVALIDITY for `user`.
    pub fn uidvalidity(&self, user: &str) -> u32 {
        let out = self.doveadm(&[
            "-f",
            "flow",
            "mailbox",
            "status",
            "-u",
            user,
            "uidvalidity",
            "INBOX",
        ]);
        out.trim()
            .rsplit('=')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no UIDVALIDITY in `{out}`"))
    }

    /// Stops Dovecot, disconnecting its clients first: left to itself, an
    /// IMAP process outlives the master by some ten seconds.
    pub fn stop_dovecot(&mut self) {
        if let Some(mut child) = self.dovecot.take() {
            let _ = Command::new("doveadm")
                .arg("-c")
                .arg(self.dovecot_conf())
                .args(["kick", "*"])
                .output();
            terminate(&mut child);
        }
        wait_closed(self.ports.imap);
    }

    pub fn start_dovecot(&mut self) {
        if self.dovecot.is_none() {
            self.launch_dovecot().expect("Dovecot restarts");
        }
    }

    pub fn stop_postfix(&mut self) {
        if self.postfix_running {
            let _ = self.postfix(&["stop"]);
            self.postfix_running = false;
        }
        wait_closed(self.ports.smtp);
    }

    pub fn start_postfix(&mut self) {
        if !self.postfix_running {
            self.launch_postfix().expect("Postfix restarts");
        }
    }

    /// Both daemons' logs, to explain a failure.
    pub fn logs(&self) -> String {
        let read = |p: PathBuf| fs::read_to_string(&p).unwrap_or_default();
        format!(
            "--- dovecot ---\n{}\n--- postfix ---\n{}",
            read(self.dir().join("dovecot/dovecot.log")),
            read(self.postfix_dir().join("postfix.log"))
        )
    }

    fn make_certificates(&self) -> Result<(), String> {
        let tls = self.dir().join("tls");
        fs::create_dir_all(&tls).map_err(err)?;
        fs::write(
            tls.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(err)?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=guichet test CA",
                ],
            ]
            .concat(),
            [
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        ];
        for args in steps {
            run(Command::new("openssl").args(&args).current_dir(&tls))?;
        }
        Ok(())
    }

    fn write_dovecot_config(&self, vmail: (u32, u32)) -> Result<(), String> {
        let dir = self.dir().join("dovecot");
        for sub in ["run", "state"] {
            fs::create_dir_all(dir.join(sub)).map_err(err)?;
        }
        let mail = self.dir().join("mail");
        fs::create_dir_all(&mail).map_err(err)?;
        chown(&mail, vmail)?;
        let passwd: String = users()
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}{}\n", password(u)))
            .collect();
        fs::write(dir.join("passwd"), passwd).map_err(err)?;
        let text = config_text::dovecot(self.dir(), &self.ports, &self.options, vmail);
        fs::write(self.dovecot_conf(), text).map_err(err)
    }

    fn write_postfix_config(&self) -> Result<(), String> {
        let dir = self.postfix_dir();
        fs::create_dir_all(dir.join("queue")).map_err(err)?;
        fs::create_dir_all(dir.join("data")).map_err(err)?;
        run(Command::new("chown").arg("postfix").arg(dir.join("data")))?;
        fs::copy("/etc/postfix/master.cf", dir.join("master.cf")).map_err(err)?;
        let mailboxes: String = users().iter().map(|u| format!("{u} ok\n")).collect();
        fs::write(dir.join("vmailbox"), mailboxes).map_err(err)?;
        fs::write(
            dir.join("main.cf"),
            config_text::postfix_main(self.dir(), &self.ports, &self.options),
        )
        .map_err(err)?;
        let ports = self.ports;
        let postconf = |flag: &str, setting: String| {
            run(Command::new("postconf")
                .arg("-c")
                .arg(&dir)
                .arg(flag)
                .arg(setting))
        };
        postconf("-F", "*/*/chroot = n".into())?;
        postconf(
            "-M",
            "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd".into(),
        )?;
        postconf(
            "-M",
            format!("smtp/inet={} inet n - n - - smtpd", ports.smtp),
        )?;
        fs::write(dir.join("header_checks"), config_text::header_checks()).map_err(err)?;
        let auth_checks = dir.join("auth_header_checks");
        fs::write(&auth_checks, config_text::auth_header_checks()).map_err(err)?;
        postconf(
            "-M",
            format!(
                "authcleanup/unix=authcleanup unix n - n - 0 cleanup -o header_checks=regexp:{}",
                auth_checks.display()
            ),
        )?;
        postconf(
            "-M",
            format!(
                "submission/inet={} inet n - n - - smtpd -o cleanup_service_name=authcleanup \
                 -o smtpd_relay_restrictions=permit_sasl_authenticated,reject \
                 -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
                ports.submission
            ),
        )?;
        if self.options.tls {
            postconf(
                "-M",
                format!(
                    "smtps/inet={} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes",
                    ports.smtps
                ),
            )?;
        }
        Ok(())
    }

    fn launch_dovecot(&mut self) -> Result<(), String> {
        let log = fs::File::create(self.dir().join("dovecot/stderr.log")).map_err(err)?;
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.dovecot_conf())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(err)?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("dovecot: {e}"))?;
        self.dovecot = Some(child);
        let ports = [self.ports.imap, self.ports.lmtp];
        let ports = if self.options.tls {
            [&ports[..], &[self.ports.imaps]].concat()
        } else {
            ports.to_vec()
        };
        wait_open(&ports).map_err(|e| format!("{e}\n{}", self.logs()))
    }

    fn launch_postfix(&mut self) -> Result<(), String> {
        self.postfix(&["start"])?;
        self.postfix_running = true;
        let ports = if self.options.tls {
            vec![self.ports.smtp, self.ports.submission, self.ports.smtps]
        } else {
            vec![self.ports.smtp, self.ports.submission]
        };
        wait_open(&ports).map_err(|e| format!("{e}\n{}", self.logs()))
    }

    fn postfix(&self, args: &[&str]) -> Result<(), String> {
        run(Command::new("postfix")
            .arg("-c")
            .arg(self.postfix_dir())
            .args(args))
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        if self.postfix_running {
            let _ = self.postfix(&["stop"]);
        }
        if let Some(mut child) = self.dovecot.take() {
            terminate(&mut child);
        }
    }
}

/// Reads every message of `folder`, in UID order.
async fn read_folder(session: &mut Session<AsyncTcpStream>, folder: &str) -> Vec<Vec<u8>> {
    let selected = match session.examine(folder).await {
        Ok(mailbox) => mailbox,
        Err(async_imap::error::Error::No(_)) => return Vec::new(),
        Err(e) => panic!("EXAMINE {folder}: {e}"),
    };
    if selected.exists == 0 {
        return Vec::new();
    }
    let fetches = session
        .uid_fetch("1:*", "(UID BODY.PEEK[])")
        .await
        .expect("UID FETCH");
    let mut fetches: Vec<_> = fetches.try_collect().await.expect("UID FETCH answers");
    fetches.sort_by_key(|f| f.uid);
    fetches
        .iter()
        .filter_map(|f| f.body().map(<[u8]>::to_vec))
        .collect()
}

/// A simple applicant message with a unique Message-ID.
pub fn mail(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Sat, 28 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <{nanos}.{n}@clinique.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The `vmail` user's uid and gid, creating the user when missing.
fn vmail_ids() -> Result<(u32, u32), String> {
    static ONCE: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").arg(flag).arg("vmail").output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        if id("-u").is_none() {
            // Exit status 9: created meanwhile by someone else, which is fine.
            let _ = Command::new("useradd")
                .args([
                    "-r",
                    "-U",
                    "-M",
                    "-d",
                    "/nonexistent",
                    "-s",
                    "/usr/sbin/nologin",
                    "vmail",
                ])
                .status();
        }
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok((uid, gid)),
            _ => Err("no `vmail` user and `useradd` could not create it".into()),
        }
    })
    .clone()
}

/// A port free now and not handed out before in this process.
fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if given.lock().unwrap_or_else(|p| p.into_inner()).insert(port) {
            return port;
        }
    }
}

fn wait_open(ports: &[u16]) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    for &port in ports {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() >= deadline {
                return Err(format!("port {port} did not open within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

fn wait_closed(port: u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a daemon we started: SIGTERM, then SIGKILL after 10 s.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn chown(path: &Path, (uid, gid): (u32, u32)) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(err)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}
