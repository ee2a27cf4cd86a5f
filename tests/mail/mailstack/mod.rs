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
//! Declared by `tests/mail/main.rs` and used by the test modules beside it.

mod clients;
mod config_text;
mod direct;
pub mod failure;
mod process;
pub mod token_server;

pub use clients::mail;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use guichet::config;
use tempfile::TempDir;

use process::{
    chown, end_group, err, free_port, run, vmail_ids, wait_closed, wait_open, wait_or_kill,
};

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

/// A reply from the intake to `to`, as guichet would queue it.
pub fn reply(to: &str, subject: &str) -> guichet::outbox::Outgoing {
    guichet::outbox::Outgoing {
        id: subject.replace(' ', "-"),
        envelope_from: INTAKE.into(),
        to: vec![to.into()],
        raw: mail(INTAKE, to, subject, "Votre demande a bien été reçue."),
    }
}

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
    /// Personal folders under `INBOX.` with `.` as separator, as Cyrus
    /// (Debian), Courier and many hosting providers lay them out.
    pub inbox_prefix: bool,
    /// Dovecot (and so Postfix's submission port) also takes bearer tokens
    /// (XOAUTH2, OAUTHBEARER): JWTs signed HS256 with `OAUTH_KEY`.
    pub oauth2: bool,
}

/// The HS256 key the OAuth stack's Dovecot validates tokens with.
pub const OAUTH_KEY: &[u8] = b"guichet-test-hs256-key-0123456789abcdef";

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
        failure::remember_panics();
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
            auth: config::ImapAuth::Password,
            username: user.into(),
            password: Some(password(user).into()),
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
            auth: config::SmtpAuth::Password,
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
            password: Some(password(user).into()),
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

    /// As `config_toml`, with replies sent on the submission port logged in
    /// as `user` (with its password).
    pub fn config_toml_submitting_as(&self, user: &str) -> String {
        let imap = self.config_toml();
        let imap = &imap[..imap.find("[smtp]").unwrap_or(imap.len())];
        format!(
            "{imap}[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{user}\"\n\
             password = \"{}\"\n",
            self.ports.submission,
            password(user)
        )
    }

    /// Gives `user` another password on the server (Dovecot reads its
    /// passwd-file again when it changes): logins with the old one fail
    /// until it is given back.
    pub fn set_password(&self, user: &str, new: &str) {
        let path = self.dir().join("dovecot/passwd");
        let text = fs::read_to_string(&path).expect("passwd-file");
        let changed: String = text
            .lines()
            .map(|l| match l.split_once(':') {
                Some((u, _)) if u == user => format!("{u}:{{PLAIN}}{new}\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        // Replaced whole, with a new mtime Dovecot notices.
        let tmp = path.with_extension("new");
        fs::write(&tmp, changed).expect("passwd-file written");
        fs::rename(&tmp, &path).expect("passwd-file replaced");
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

    /// Ends every IMAP session of `user`, as a server ending a session
    /// (an expired token, an administrator) would.
    pub fn kick(&self, user: &str) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(self.dovecot_conf())
            .args(["kick", user])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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
        self.halt_dovecot();
        wait_closed(self.ports.imap);
    }

    fn halt_dovecot(&mut self) {
        let Some(mut child) = self.dovecot.take() else {
            return;
        };
        let doveadm = |args: &[&str]| {
            Command::new("doveadm")
                .arg("-c")
                .arg(self.dovecot_conf())
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        // No `doveadm kick` first: a client kicked while the master still
        // accepts connections reconnects at once, and one outage would look
        // like two. Nor is `doveadm stop` enough: an IMAP session in IDLE was
        // seen to outlive its master and serve on after the restart. So the
        // master stops, then whatever is left of its process group is told
        // to stop too (SIGTERM: a SIGKILL would leave stale dot-locks that
        // stall the next server for minutes).
        let group = child.id() as i32;
        // `doveadm stop` waits for the master to be gone, and it is not
        // gone before we reap it: reap while it waits.
        let stopping = doveadm(&["stop"]);
        wait_or_kill(&mut child);
        if let Ok(mut stopping) = stopping {
            let _ = stopping.wait();
        }
        end_group(group);
    }

    pub fn start_dovecot(&mut self) {
        if self.dovecot.is_none() {
            self.launch_dovecot().expect("Dovecot restarts");
        }
    }

    /// Stops Postfix; its next start skips the (slow) integrity checks.
    pub fn stop_postfix(&mut self) {
        if self.postfix_running {
            let _ = self.postfix(&["quick-stop"]);
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
            "--- dovecot ---\n{}{}\n--- postfix ---\n{}",
            failure::tail(&read(self.dir().join("dovecot/stderr.log"))),
            failure::tail(&read(self.dir().join("dovecot/dovecot.log"))),
            failure::tail(&read(self.postfix_dir().join("postfix.log")))
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
        if self.options.oauth2 {
            use base64::Engine;
            let key = base64::engine::general_purpose::STANDARD.encode(OAUTH_KEY);
            // Dovecot 2.3.19 looks the key up as `<azp>/<alg>/<kid>`: azp
            // `default` when the token has none, alg as in its header.
            let keys = dir.join("keys/default/HS256");
            fs::create_dir_all(&keys).map_err(err)?;
            fs::write(keys.join("default"), &key).map_err(err)?;
            fs::write(
                dir.join("dovecot-oauth2.conf.ext"),
                config_text::dovecot_oauth2(self.dir()),
            )
            .map_err(err)?;
        }
        let text = config_text::dovecot(self.dir(), &self.ports, &self.options, vmail);
        fs::write(self.dovecot_conf(), text).map_err(err)
    }

    fn write_postfix_config(&self) -> Result<(), String> {
        let dir = self.postfix_dir();
        fs::create_dir_all(dir.join("queue")).map_err(err)?;
        fs::create_dir_all(dir.join("data")).map_err(err)?;
        run(Command::new("chown").arg("postfix").arg(dir.join("data")))?;
        // The package's copy when /etc/postfix was never configured.
        let master = [
            "/etc/postfix/master.cf",
            "/usr/share/postfix/master.cf.dist",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("no master.cf: is postfix installed?")?;
        fs::copy(master, dir.join("master.cf")).map_err(err)?;
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
                 -o smtpd_sasl_auth_enable=yes \
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
        // A process group of its own: a stop ends every session with it.
        let child = Command::new("dovecot")
            .process_group(0)
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
        wait_open(&ports).map_err(|e| format!("{e}\n{}", self.logs()))?;
        // Open ports are no proof when another process took one of them.
        match self.dovecot.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            _ => Err(format!("dovecot exited at start\n{}", self.logs())),
        }
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
            failure::repeat_panic();
        }
        // Both at once: Postfix's LMTP clients must go for Dovecot to stop.
        let postfix_stop = self.postfix_running.then(|| {
            Command::new("postfix")
                .arg("-c")
                .arg(self.postfix_dir())
                .arg("stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        });
        self.halt_dovecot();
        if let Some(Ok(mut stopping)) = postfix_stop {
            let _ = stopping.wait();
        }
    }
}
