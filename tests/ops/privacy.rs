//! Personal data kept only as long as its purpose: a desk on local folders
//! takes a handful of requests, staff approve and refuse some, one waits
//! for a correction that never comes, one stays with staff; `guichet purge`
//! with `days = 0` must then leave no e-mail address, birth date, licence
//! or name of the settled requests in any byte guichet keeps (every file of
//! the sled database, every kept e-mail, every sent one the built-in
//! transport wrote), while the waiting request keeps
//! its own; `person export` and `person forget` round-trip on the built
//! binary. A scripted reader stands in for OCR, so each form's contents
//! are known; everything else is the real desk.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guichet::config::Settings;
use guichet::daemon::Daemon;
use guichet::domain::{FieldReading, FormReport, ReadError, State};
use guichet::intake::maildir::Maildir;
use guichet::outbox::file::FileTransport;
use guichet::pipeline::Desk;
use guichet::reader::FormReader;
use guichet::reply::Templates;
use guichet::rules::RoleList;
use guichet::store::Store;
use mailparse::MailHeaderMap;

const BIN: &str = env!("CARGO_BIN_EXE_guichet");
const AGENT: &str = "agent@organisme.example";

/// One person pair of a form, all values unique to form `n`.
struct Person {
    n: usize,
}

impl Person {
    const SURNAMES: [&'static str; 5] =
        ["Bélanger", "Ouellette", "Pelletier", "Gauthier", "Lévesque"];
    const GIVEN: [&'static str; 5] = ["Annick", "Benoît", "Céline", "Denis", "Éloïse"];

    fn employer_last(&self) -> String {
        format!("{}-Roy", Self::SURNAMES[self.n])
    }
    fn user_last(&self) -> String {
        format!("{}-Caron", Self::SURNAMES[self.n])
    }
    fn employer_email(&self) -> String {
        format!("aroy{}@clinique{}.example", self.n, self.n)
    }
    fn user_email(&self) -> String {
        format!("ecaron{}@clinique{}.example", self.n, self.n)
    }
    fn licence(&self) -> String {
        format!("{}", 518_203 + 111 * self.n)
    }
    fn birth_date(&self) -> (u32, u32, u32) {
        (1971 + self.n as u32, 3 + self.n as u32, 14 + self.n as u32)
    }

    /// The form as the reader reads it; form 2 lacks the user's job title
    /// (a correction the applicant never sends).
    fn report(&self) -> FormReport {
        let (y, m, d) = self.birth_date();
        let mut fields = vec![
            ("employer.last_name", self.employer_last()),
            ("employer.first_name", Self::GIVEN[self.n].to_string()),
            ("employer.licence", self.licence()),
            ("employer.email", self.employer_email()),
            ("employer.date", "2024-11-07".to_string()),
            ("user.last_name", self.user_last()),
            ("user.first_name", Self::GIVEN[4 - self.n].to_string()),
            ("user.birth_date", format!("{y}-{m:02}-{d:02}")),
            ("user.email", self.user_email()),
            ("user.date", "2024-11-12".to_string()),
        ];
        if self.n != 2 {
            fields.push(("user.job_title", "Adjointe administrative".to_string()));
        }
        let mut report = FormReport {
            forms: 1,
            pages: 2,
            ticked: vec!["FACT".into()],
            ..Default::default()
        };
        report.signatures.employer = true;
        report.signatures.user = true;
        for (id, value) in fields {
            let confidence = 0.97;
            report
                .fields
                .insert(id.into(), FieldReading { value, confidence });
        }
        report
    }

    /// Every personal value of the pair, in every form the desk may keep
    /// it: e-mails, licence, birth date (ISO as stored, and day/month
    /// orders a reply could use), names.
    fn values(&self) -> Vec<String> {
        let (y, m, d) = self.birth_date();
        vec![
            self.employer_email(),
            self.user_email(),
            self.licence(),
            format!("{y}-{m:02}-{d:02}"),
            format!("{d:02}/{m:02}/{y}"),
            format!("{y}{m:02}{d:02}"),
            self.employer_last(),
            self.user_last(),
        ]
    }

    fn mail(&self, copy: usize) -> Vec<u8> {
        format!(
            "From: Cabinet <{from}>\r\nTo: acces@organisme.example\r\nSubject: DA-100\r\n\
Message-ID: <privacy-{n}-{copy}@clinique{n}.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=sep\r\n\r\n\
--sep\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe formulaire.\r\n\
--sep\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=da100.pdf\r\n\r\n\
%PDF-1.4\r\n%person:{n}\r\n%%EOF\r\n--sep--\r\n",
            from = self.employer_email(),
            n = self.n,
        )
        .into_bytes()
    }
}

/// Reads `%person:N` as person N's form.
struct Scripted;

impl FormReader for Scripted {
    fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError> {
        let text = String::from_utf8_lossy(pdf);
        let n = text
            .split("%person:")
            .nth(1)
            .and_then(|s| s.lines().next()?.trim().parse::<usize>().ok())
            .filter(|n| *n < Person::SURNAMES.len())
            .ok_or(ReadError::UnknownForm)?;
        Ok(Person { n }.report())
    }
}

struct Site {
    dir: tempfile::TempDir,
    /// `[retention] days` for the daemon; the default when `None`.
    daemon_days: Option<&'static str>,
}

impl Site {
    /// The daemon keeps the default period; the operator's commands run
    /// with `days = 0`.
    fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.path();
        vec![
            (
                "GUICHET__INTAKE__MAILDIR".into(),
                d.join("inbox").display().to_string(),
            ),
            (
                "GUICHET__OUTBOX__DIR".into(),
                d.join("outbox").display().to_string(),
            ),
            (
                "GUICHET__STORE__PATH".into(),
                d.join("db").display().to_string(),
            ),
        ]
    }

    async fn tick(&self) {
        let mut env = self.env();
        if let Some(days) = self.daemon_days {
            env.push(("GUICHET__RETENTION__DAYS".into(), days.into()));
        }
        let settings = Settings::load_with_env(None, env).unwrap();
        let mut daemon = Daemon {
            desk: Desk {
                reader: Box::new(Scripted),
                roles: RoleList::builtin(),
                templates: Templates::builtin(),
            },
            mailbox: Maildir::open(&settings.intake.maildir, settings.intake.max_message_bytes)
                .unwrap(),
            transport: FileTransport::new(&settings.outbox.dir).unwrap(),
            settings,
        };
        daemon.tick().await.unwrap();
    }

    fn deliver(&self, name: &str, bytes: &[u8]) {
        let new = self.dir.path().join("inbox/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join(name), bytes).unwrap();
    }

    fn request_of(&self, n: usize, state: State) -> String {
        let store = Store::open_waiting(
            &self.dir.path().join("db"),
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let email = Person { n }.employer_email();
        store
            .requests(Some(state))
            .unwrap()
            .into_iter()
            .find(|r| r.employer.email == email)
            .unwrap_or_else(|| {
                panic!(
                    "no {state} request of person {n}: {:?}",
                    store.requests(None)
                )
            })
            .id
    }

    /// A staff reply to the approval request about `id`, authenticated as
    /// the trusted server writes it.
    fn staff_reply(&self, id: &str, first_line: &str) -> Vec<u8> {
        let token_address = sent_files(&self.dir.path().join("outbox"))
            .into_iter()
            .find_map(|path| {
                let raw = std::fs::read(path).unwrap();
                let mail = mailparse::parse_mail(&raw).unwrap();
                let h = |n: &str| mail.headers.get_first_value(n).unwrap_or_default();
                let about = h("X-Guichet-Kind") == "approval-request" && h("Subject").contains(id);
                about.then(|| h("Reply-To").trim_matches(['<', '>', ' ']).to_string())
            })
            .unwrap_or_else(|| panic!("no approval request about {id}"));
        let auth = "Authentication-Results: mx.organisme.example; \
dkim=pass header.d=organisme.example; dmarc=pass header.from=organisme.example";
        format!(
            "Delivered-To: {token_address}\r\n{auth}\r\nFrom: Agent <{AGENT}>\r\nTo: {token_address}\r\n\
Subject: Re: approbation\r\nMessage-ID: <staff-{id}@organisme.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n{first_line}\r\n"
        )
        .into_bytes()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .envs(self.env())
            .env("GUICHET__RETENTION__DAYS", "0")
            .env("RUST_LOG", "info")
            .env("GUICHET__LOG__FORMAT", "json")
            .output()
            .unwrap()
    }
}

fn sent_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every place guichet keeps data on local folders: each file of the sled
/// database (raw bytes: what sled removed but did not yet reclaim counts)
/// and each e-mail kept in the Maildir (processed, quarantine, new).
fn places(site: &Site) -> Vec<(PathBuf, Vec<u8>)> {
    let root = site.dir.path();
    let mut files = files_under(&root.join("db"));
    files.extend(files_under(&root.join("inbox")));
    // The built-in transport's sent messages are copies too.
    files.extend(files_under(&root.join("outbox")));
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The values found, with where.
fn found(places: &[(PathBuf, Vec<u8>)], values: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for value in values {
        for (path, bytes) in places {
            if bytes.windows(value.len()).any(|w| w == value.as_bytes()) {
                hits.push(format!("{value} in {}", path.display()));
            }
        }
    }
    hits
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purge_leaves_nothing_of_settled_requests_and_a_person_is_exported_then_forgotten() {
    let site = Site {
        dir: tempfile::tempdir().unwrap(),
        daemon_days: None,
    };
    // Persons 0 and 1 will be decided, 2 needs a correction, 3 waits; 0
    // sends the same form twice (the second is a rejected duplicate once
    // the first is approved); someone sends no attachment at all.
    for n in 0..4 {
        site.deliver(
            &format!("{}.M{n}.t", 1_731_900_000 + n),
            &Person { n }.mail(0),
        );
    }
    let lost = "From: Cabinet <aroy4@clinique4.example>\r\nTo: acces@organisme.example\r\n\
Subject: formulaire\r\nMessage-ID: <privacy-4-0@clinique4.example>\r\n\r\nBonjour.\r\n";
    site.deliver("1731900010.M10.t", lost.as_bytes());
    site.tick().await;
    let approved = site.request_of(0, State::Queued);
    let refused = site.request_of(1, State::Queued);
    let correction = site.request_of(2, State::Correction);
    let waiting = site.request_of(3, State::Queued);
    site.deliver(
        "1731901000.M20.t",
        &site.staff_reply(&approved, "APPROUVER"),
    );
    site.deliver(
        "1731901001.M21.t",
        &site.staff_reply(&refused, "REFUSER licence inconnue"),
    );
    site.tick().await;
    site.deliver("1731902000.M30.t", &Person { n: 0 }.mail(1));
    site.tick().await;
    let duplicate = site.request_of(0, State::Rejected);
    assert_eq!(site.request_of(0, State::Approved), approved);
    assert_eq!(site.request_of(1, State::Refused), refused);

    let mut settled: Vec<String> = (0..3).flat_map(|n| Person { n }.values()).collect();
    settled.push("aroy4@clinique4.example".into());
    let kept = Person { n: 3 }.values();
    let before = places(&site);
    let present_before = found(&before, &settled).len();
    assert!(present_before > 0, "the settled values are on file before");

    // The staff member has the approval request in their own mailbox; the
    // desk's sent copy goes with the purge.
    let refusal_later = site.staff_reply(&waiting, "REFUSER doublon");
    let purge = site.run(&["purge"]);
    assert!(purge.status.success(), "{}", stderr(&purge));
    assert!(
        sent_files(&site.dir.path().join("outbox")).is_empty(),
        "days = 0: every sent message removed from the outbox folder"
    );
    let summary = String::from_utf8_lossy(&purge.stdout).into_owned();
    assert!(summary.starts_with("4 request(s) erased"), "{summary}");

    let status = site.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["requests_erased"], 4);
    let after = places(&site);
    let left = found(&after, &settled);
    let in_db = after
        .iter()
        .filter(|(p, _)| p.starts_with(site.dir.path().join("db")));
    eprintln!(
        "privacy figures: {} values of settled requests searched in {} places \
         ({} files of the sled database, {} kept e-mails), {} hits before the purge, \
         {} left after (places before: {})",
        settled.len(),
        after.len(),
        in_db.count(),
        after.len()
            - after
                .iter()
                .filter(|(p, _)| p.starts_with(site.dir.path().join("db")))
                .count(),
        present_before,
        left.len(),
        before.len()
    );
    assert!(left.is_empty(), "left after the purge: {left:#?}");
    let mails_kept = files_under(&site.dir.path().join("inbox"));
    assert_eq!(
        mails_kept.len(),
        1,
        "only the waiting request's e-mail: {mails_kept:?}"
    );
    // As stored: e-mails, licence, ISO birth date, names.
    for value in [0, 1, 2, 3, 6, 7].map(|i| &kept[i]) {
        assert!(
            !found(&after, std::slice::from_ref(value)).is_empty(),
            "the waiting request keeps {value}"
        );
    }
    {
        let store = Store::open_waiting(
            &site.dir.path().join("db"),
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        for id in [&approved, &refused, &correction, &duplicate] {
            let r = store.request(id).unwrap().expect("the number stays");
            assert!(r.fields.is_empty() && r.employer.email.is_empty());
            assert!(r.history.len() >= 2, "dates and states stay");
        }
        let accounts = store.accounts().unwrap();
        assert_eq!(accounts.len(), 1);
        assert!(accounts[0].user.email.is_empty() && accounts[0].password_hash.is_empty());
        assert_eq!(accounts[0].request_id, approved);
        assert_eq!(store.erasures().unwrap().len(), 4);
        assert!(
            store.mail_to_forget().unwrap().is_empty(),
            "every kept copy removed"
        );
        assert_eq!(
            store.request(&waiting).unwrap().unwrap().state,
            State::Queued
        );
    }

    // What is held about the waiting person: their request, fields and all.
    let address = Person { n: 3 }.employer_email();
    let export = site.run(&["person", "export", &address]);
    assert!(export.status.success(), "{}", stderr(&export));
    let json: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(json["requests"][0]["id"], waiting.as_str());
    assert_eq!(
        json["requests"][0]["employer"]["licence"],
        Person { n: 3 }.licence()
    );
    let log = stderr(&export);
    assert!(
        log.contains("guichet::access") && log.contains(&waiting),
        "{log}"
    );
    assert!(
        !log.contains(&address),
        "the access line names no one: {log}"
    );

    // Nothing is erased while the request waits.
    let refusal = site.run(&["person", "forget", &address, "--reason", "demande 2024-17"]);
    assert!(!refusal.status.success());
    assert!(
        stderr(&refusal).contains("still waiting"),
        "{}",
        stderr(&refusal)
    );
    assert!(!found(&places(&site), &kept[..1]).is_empty());

    // Once decided, the person's data goes at once, with a record.
    site.deliver("1731903000.M40.t", &refusal_later);
    site.tick().await;
    let forget = site.run(&["person", "forget", &address, "--reason", "demande 2024-17"]);
    assert!(forget.status.success(), "{}", stderr(&forget));
    let again = site.run(&["person", "export", &address]);
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["requests"].as_array().unwrap().len(), 0);
    assert_eq!(json["forgotten"][0]["requests"][0], waiting.as_str());
    assert_eq!(json["forgotten"][0]["reason"], "demande 2024-17");
    let left = found(&places(&site), &kept);
    assert!(left.is_empty(), "left after forget: {left:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_applies_retention_in_its_round_and_rewrites_the_store() {
    let site = Site {
        dir: tempfile::tempdir().unwrap(),
        daemon_days: Some("0"),
    };
    site.deliver("1731900000.M0.t", &Person { n: 2 }.mail(0));
    site.deliver("1731900001.M1.t", &Person { n: 3 }.mail(0));
    site.tick().await;
    let left = found(&places(&site), &Person { n: 2 }.values());
    assert!(
        left.is_empty(),
        "the unanswered correction, at once: {left:#?}"
    );
    let kept = found(&places(&site), &Person { n: 3 }.values()[..1]);
    assert!(!kept.is_empty(), "the queued request keeps its data");
    let mails = files_under(&site.dir.path().join("inbox/cur"));
    assert_eq!(mails.len(), 1, "only the queued request's e-mail is kept");
    let store = Store::open_waiting(
        &site.dir.path().join("db"),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(store.erasures().unwrap().len(), 1);
    assert!(store.mail_to_forget().unwrap().is_empty());
}

/// The generated corpus of `count` typed forms (one with a bad user
/// address), with the truth of each: (PDF path, field values).
fn generated(out: &Path, count: u32) -> Vec<(PathBuf, serde_json::Map<String, serde_json::Value>)> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Command::new("/usr/bin/python3")
        .arg(here.join("tools/gencorpus/gencorpus.py"))
        .args(["--seed", "14", "--count", &count.to_string()])
        .args(["--production", "digital", "--flaws", "none,bad_email_user"])
        .arg("--form-dir")
        .arg(here.join("data/da-100"))
        .arg("--out")
        .arg(out)
        .output()
        .expect("run tools/gencorpus with Debian's python3");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("truth.json")).unwrap()).unwrap();
    truth
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let file = out.join(entry["file"].as_str().unwrap());
            (file, entry["fields"].as_object().unwrap().clone())
        })
        .collect()
}

/// The generated PDF as an applicant mails it, from the professional.
fn mail_with(pdf: &Path, from: &str, i: usize) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(std::fs::read(pdf).unwrap());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: <{from}>\r\nTo: acces@organisme.example\r\nSubject: DA-100\r\n\
Message-ID: <scan-{i}@generated.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=cut\r\n\r\n--cut\r\n\
Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=form-{i}.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--cut--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

#[test]
fn the_daemon_and_the_commands_log_no_name_birth_date_licence_or_address() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = generated(&dir.path().join("forms"), 3);
    let site = dir.path().join("desk");
    let inbox = site.join("var/inbox/new");
    std::fs::create_dir_all(&inbox).unwrap();
    let personal = ["last_name", "first_name", "licence", "birth_date", "email"];
    let mut values: Vec<String> = Vec::new();
    for (i, (pdf, fields)) in corpus.iter().enumerate() {
        let from = fields["employer.email"].as_str().unwrap().to_string();
        std::fs::write(
            inbox.join(format!("{}.M{i}.gen", 1_731_900_000 + i)),
            mail_with(pdf, &from, i),
        )
        .unwrap();
        for (id, value) in fields {
            if personal.iter().any(|p| id.ends_with(p)) {
                values.push(value.as_str().unwrap().to_string());
            }
        }
        values.push(from);
    }
    values.sort();
    values.dedup();

    // The built-in default (no --config, in the desk's folder), every
    // guichet line down to trace.
    let run = |args: &[&str]| -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(&site)
            .env("RUST_LOG", "guichet=trace,info")
            .env("GUICHET__LOG__FORMAT", "json")
            .env_remove("JOURNAL_STREAM")
            .output()
            .unwrap()
    };
    let daemon = run(&["run", "--once"]);
    assert!(daemon.status.success(), "{}", stderr(&daemon));
    let list = run(&["queue", "list", "--json"]);
    let queue: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let ids: Vec<String> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "one request a form");
    let show = run(&["queue", "show", &ids[0]]);
    let export = run(&["export"]);
    let address = values.iter().find(|v| v.contains('@')).unwrap();
    let person = run(&["person", "export", address]);
    let held: serde_json::Value = serde_json::from_slice(&person.stdout).unwrap();
    assert!(
        !held["requests"].as_array().unwrap().is_empty(),
        "the data is shown on standard output, never in the log"
    );
    let mut log = String::new();
    for out in [&daemon, &list, &show, &export, &person] {
        assert!(out.status.success(), "{}", stderr(out));
        log.push_str(&stderr(out));
    }
    assert_eq!(
        log.matches("\"message handled\"").count(),
        3,
        "the daemon logged each message:\n{log}"
    );
    assert!(
        log.contains("\"field read\""),
        "the reader's debug lines are scanned too"
    );
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("guichet::access"))
        .collect();
    assert_eq!(
        access.len(),
        4,
        "one access line per command that shows data"
    );
    assert!(access.iter().all(|l| l.contains("\"uid\":")));
    assert!(access[1].contains(&ids[0]), "queue show names its request");

    let lower = log.to_lowercase();
    let leaks: Vec<&String> = values
        .iter()
        .filter(|v| {
            log.contains(v.as_str()) || (v.contains('@') && lower.contains(&v.to_lowercase()))
        })
        .collect();
    eprintln!(
        "log scan: {} personal values of {} generated forms searched in {} log lines, {} found",
        values.len(),
        corpus.len(),
        log.lines().count(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "in the log: {leaks:?}");
}
