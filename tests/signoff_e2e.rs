//! Staff sign-off end to end on the built-in default: Maildir in, `.eml`
//! files out, sled store. A scripted form reader stands in for OCR, so the
//! forms' contents are known; everything else is the real desk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use guichet::config::Settings;
use guichet::daemon::Daemon;
use guichet::domain::{Crop, FieldReading, FormReport, ReadError, Signatures, State};
use guichet::intake::maildir::Maildir;
use guichet::outbox::file::FileTransport;
use guichet::pipeline::Desk;
use guichet::reader::FormReader;
use guichet::reply::Templates;
use guichet::rules::RoleList;
use guichet::staff::credentials;
use guichet::store::Store;
use mailparse::{MailHeaderMap, ParsedMail};

const TRUSTED_AUTH: &str = "Authentication-Results: mx.organisme.example;\r\n\
\tdkim=pass header.d=organisme.example header.s=s1;\r\n\
\tspf=pass smtp.mailfrom=organisme.example;\r\n\
\tdmarc=pass (p=reject) header.from=organisme.example\r\n";

/// The users on the scripted forms, by number: (first name, last name).
const USERS: [(&str, &str); 6] = [
    ("Valérie", "Martel"),
    ("Étienne", "Gagnon"),
    ("Chloé", "Bouchard"),
    ("Mathis", "Côté"),
    ("Zoé", "Tremblay"),
    ("Louis", "Lavoie"),
];

/// Reads `%PDF-1.4\n%form:N` as a complete DA-100 from Léa Fortin for
/// user N of [`USERS`], with two signature crops; a line
/// `%illegible:<field id>` makes that field illegible (with its crop).
struct Scripted;

fn png(shade: u8) -> Vec<u8> {
    let img = image::GrayImage::from_pixel(8, 4, image::Luma([shade]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

impl FormReader for Scripted {
    fn read(&self, pdf: &[u8]) -> Result<FormReport, ReadError> {
        let text = String::from_utf8_lossy(pdf);
        let n: usize = text
            .split("%form:")
            .nth(1)
            .and_then(|s| s.lines().next()?.trim().parse().ok())
            .ok_or(ReadError::UnknownForm)?;
        let (first, last) = *USERS.get(n).ok_or(ReadError::UnknownForm)?;
        let ascii = |s: &str| -> String {
            s.chars()
                .map(|c| match c {
                    'é' | 'É' => 'e',
                    'ô' => 'o',
                    c => c.to_ascii_lowercase(),
                })
                .collect()
        };
        let user_email = format!("{}.{}@dentaire.example", ascii(first), ascii(last));
        let fields = [
            ("employer.last_name", "Fortin".to_string()),
            ("employer.first_name", "Léa".to_string()),
            ("employer.licence", "397937".to_string()),
            ("employer.email", "lea.fortin@dentaire.example".to_string()),
            ("employer.date", "2024-11-07".to_string()),
            ("user.last_name", last.to_string()),
            ("user.first_name", first.to_string()),
            ("user.birth_date", format!("1974-11-{:02}", 10 + n)),
            ("user.job_title", "Réceptionniste".to_string()),
            ("user.email", user_email),
            ("user.date", "2024-11-12".to_string()),
        ];
        let illegible: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("%illegible:"))
            .map(|id| id.trim().to_string())
            .collect();
        let fields = fields
            .into_iter()
            .filter(|(id, _)| !illegible.iter().any(|i| i == id));
        let field_crops = illegible.iter().map(|id| Crop {
            zone: id.clone(),
            png: png(120),
        });
        Ok(FormReport {
            forms: 1,
            pages: 2,
            ticked: vec!["INSC".into()],
            signatures: Signatures {
                employer: true,
                user: true,
            },
            fields: fields
                .into_iter()
                .map(|(k, v)| {
                    let reading = FieldReading {
                        value: v,
                        confidence: 0.95,
                    };
                    (k.to_string(), reading)
                })
                .collect(),
            crops: field_crops
                .chain([
                    Crop {
                        zone: "employer.signature".into(),
                        png: png(10),
                    },
                    Crop {
                        zone: "user.signature".into(),
                        png: png(200),
                    },
                ])
                .collect(),
            illegible,
            ..FormReport::default()
        })
    }
}

struct Desktop {
    dir: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
}

impl Desktop {
    fn new(extra_env: &[(&str, &str)]) -> Desktop {
        Desktop {
            dir: tempfile::tempdir().unwrap(),
            extra_env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn settings(&self) -> Settings {
        let dir = self.path();
        let mut env: Vec<(String, String)> = [
            ("GUICHET__INTAKE__MAILDIR", dir.join("inbox")),
            ("GUICHET__OUTBOX__DIR", dir.join("outbox")),
            ("GUICHET__STORE__PATH", dir.join("db")),
        ]
        .map(|(k, v)| (k.to_string(), v.display().to_string()))
        .to_vec();
        env.extend(self.extra_env.iter().cloned());
        Settings::load_with_env(None, env).unwrap()
    }

    /// One round of the daemon, as `guichet run --once` does it.
    async fn tick(&self) {
        let s = self.settings();
        let mut daemon = Daemon {
            desk: Desk {
                reader: Box::new(Scripted),
                roles: RoleList::builtin(),
                templates: Templates::builtin(),
            },
            mailbox: Maildir::open(&s.intake.maildir, s.intake.max_message_bytes).unwrap(),
            transport: FileTransport::new(&s.outbox.dir).unwrap(),
            settings: s,
        };
        daemon.tick().await.unwrap();
    }

    fn drop_in(&self, delivered: i64, bytes: &[u8]) {
        let new = self.path().join("inbox/new");
        std::fs::create_dir_all(&new).unwrap();
        let name = format!("{delivered}.M{}.test", rand_suffix());
        std::fs::write(new.join(name), bytes).unwrap();
    }

    fn store(&self) -> Store {
        Store::open_waiting(&self.path().join("db"), std::time::Duration::from_secs(10)).unwrap()
    }

    /// Every message written to the outbox, oldest first.
    fn outbox(&self) -> Vec<Sent> {
        let Ok(entries) = std::fs::read_dir(self.path().join("outbox")) else {
            return vec![];
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| Sent {
                raw: std::fs::read(&p).unwrap(),
            })
            .collect()
    }

    fn of_kind(&self, kind: &str) -> Vec<Sent> {
        self.outbox()
            .into_iter()
            .filter(|m| m.header("X-Guichet-Kind") == kind)
            .collect()
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

struct Sent {
    raw: Vec<u8>,
}

impl Sent {
    fn mail(&self) -> ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).unwrap()
    }

    fn header(&self, name: &str) -> String {
        self.mail()
            .headers
            .get_first_value(name)
            .unwrap_or_default()
    }

    /// Every leaf part: (content type, content id, file name, decoded body).
    fn parts(&self) -> Vec<(String, String, String, Vec<u8>)> {
        fn walk(p: &ParsedMail, out: &mut Vec<(String, String, String, Vec<u8>)>) {
            if p.subparts.is_empty() {
                out.push((
                    p.ctype.mimetype.clone(),
                    p.headers.get_first_value("Content-ID").unwrap_or_default(),
                    p.get_content_disposition()
                        .params
                        .get("filename")
                        .cloned()
                        .unwrap_or_default(),
                    p.get_body_raw().unwrap(),
                ));
            }
            for s in &p.subparts {
                walk(s, out);
            }
        }
        let mut out = vec![];
        walk(&self.mail(), &mut out);
        out
    }

    /// The decoded text of every text part.
    fn text(&self) -> String {
        self.parts()
            .into_iter()
            .filter(|p| p.0.starts_with("text/"))
            .map(|p| String::from_utf8_lossy(&p.3).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The token address in `Reply-To`.
    fn reply_to(&self) -> String {
        let h = self.header("Reply-To");
        h.trim().trim_matches(['<', '>']).to_string()
    }
}

fn pdf(n: usize) -> Vec<u8> {
    format!("%PDF-1.4\n%form:{n}\n%%EOF\n").into_bytes()
}

/// An applicant's e-mail carrying form N.
fn applicant_mail(n: usize) -> Vec<u8> {
    applicant_mail_with(n, &pdf(n), &format!("<form-{n}@dentaire.example>"), "")
}

/// An applicant's e-mail carrying `pdf` as `da100-N.pdf`, with its
/// Message-ID and extra headers (each ending in CRLF).
fn applicant_mail_with(n: usize, pdf: &[u8], message_id: &str, headers: &str) -> Vec<u8> {
    use base64_engine::encode;
    format!(
        "From: Lea Fortin <lea.fortin@dentaire.example>\r\n\
To: acces@organisme.example\r\n\
Subject: DA-100\r\n\
Message-ID: {message_id}\r\n\
{headers}MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoici le formulaire.\r\n\
--b\r\nContent-Type: application/pdf; name=da100-{n}.pdf\r\n\
Content-Disposition: attachment; filename=da100-{n}.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        encode(pdf)
    )
    .into_bytes()
}

/// Minimal base64, to keep the test free of another dependency.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// A staff member's reply to the token address `to`.
fn staff_reply(id: &str, from: &str, to: &str, auth: &str, first_line: &str) -> Vec<u8> {
    format!(
        "Delivered-To: {to}\r\n\
{auth}From: Agent <{from}>\r\n\
To: {to}\r\n\
Subject: Re: Demande d'approbation\r\n\
Message-ID: <{id}@organisme.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\
{first_line}\r\n\r\n\
Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :\r\n\
> APPROUVER\r\n> ou\r\n> REFUSER suivi de la raison\r\n"
    )
    .into_bytes()
}

const AGENT: &str = "agent@organisme.example";

fn request_ids_of(store: &Store, state: State) -> Vec<String> {
    store
        .requests(Some(state))
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_by_reply_issues_credentials_and_nothing_else_acts() {
    let desk = Desktop::new(&[]);
    desk.drop_in(1_731_917_000, &applicant_mail(0));
    desk.tick().await;

    // The applicant is acknowledged; staff get the approval request.
    assert_eq!(desk.of_kind("ack").len(), 1);
    let approvals = desk.of_kind("approval-request");
    assert_eq!(approvals.len(), 1);
    let approval = &approvals[0];
    assert_eq!(approval.header("To"), AGENT);
    let id = request_ids_of(&desk.store(), State::Queued).pop().unwrap();
    let subject = approval.header("Subject");
    assert!(
        subject.ends_with(&format!("{id} (2024-11-18)")),
        "number and reception date: {subject}"
    );
    let token_address = approval.reply_to();
    let token = token_address
        .strip_prefix("acces+")
        .and_then(|s| s.strip_suffix("@organisme.example"))
        .expect("Reply-To is a token plus-address of the intake");
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()));
    let parts = approval.parts();
    let images: Vec<_> = parts.iter().filter(|p| p.0 == "image/png").collect();
    assert_eq!(images.len(), 2, "both signature crops inline");
    assert!(images.iter().all(|p| p.1.contains("@guichet")));
    assert!(approval.text().contains("cid:crop0@guichet"));
    let attached: Vec<_> = parts.iter().filter(|p| p.0 == "application/pdf").collect();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].2, "da100-0.pdf");
    assert_eq!(attached[0].3, pdf(0), "the applicant's PDF, unchanged");
    // The token is stored only hashed.
    {
        let store = desk.store();
        assert!(store.token(token).unwrap().is_none());
        let approvals = store.approvals().unwrap();
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0].staff, AGENT);
    }
    let before = desk.outbox().len();

    // Forged: no Authentication-Results. A header from an untrusted server.
    // From another staff address, authenticated for its own domain.
    desk.drop_in(
        1_731_918_000,
        &staff_reply("forged", AGENT, &token_address, "", "APPROUVER"),
    );
    let untrusted = TRUSTED_AUTH.replace("mx.organisme.example", "mx.attacker.example");
    desk.drop_in(
        1_731_918_001,
        &staff_reply("untrusted", AGENT, &token_address, &untrusted, "APPROUVER"),
    );
    desk.drop_in(
        1_731_918_002,
        &staff_reply(
            "colleague",
            "collegue@organisme.example",
            &token_address,
            TRUSTED_AUTH,
            "APPROUVER",
        ),
    );
    desk.drop_in(
        1_731_918_003,
        &staff_reply(
            "unclear",
            AGENT,
            &token_address,
            TRUSTED_AUTH,
            "Je regarde ça demain",
        ),
    );
    desk.tick().await;
    // Forged and foreign replies get nothing; the staff member's unclear
    // reply gets one notice saying why.
    assert_eq!(desk.outbox().len(), before + 1, "one notice, nothing else");
    let notices = desk.of_kind("staff-notice");
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].header("To"), AGENT);
    assert_eq!(notices[0].header("Auto-Submitted"), "auto-generated");
    assert_eq!(
        notices[0].header("In-Reply-To"),
        "<unclear@organisme.example>"
    );
    assert_eq!(notices[0].reply_to(), token_address, "answer it directly");
    assert!(notices[0].text().contains("APPROUVER, ou REFUSER"));
    let before = before + 1;
    {
        let store = desk.store();
        assert_eq!(
            request_ids_of(&store, State::Queued),
            std::slice::from_ref(&id)
        );
        assert!(store.accounts().unwrap().is_empty());
        assert_eq!(store.approvals().unwrap().len(), 1, "still out with staff");
    }
    assert!(
        std::fs::read_dir(desk.path().join("inbox/new"))
            .unwrap()
            .next()
            .is_none(),
        "every staff reply settled"
    );
    // None of them became an applicant request.
    assert_eq!(desk.store().requests(None).unwrap().len(), 1);

    // The real decision.
    let approve = staff_reply("approve", AGENT, &token_address, TRUSTED_AUTH, "Approuver");
    desk.drop_in(1_731_919_000, &approve);
    desk.tick().await;
    let store = desk.store();
    assert_eq!(
        request_ids_of(&store, State::Approved),
        std::slice::from_ref(&id)
    );
    let request = store.request(&id).unwrap().unwrap();
    assert!(request
        .history
        .last()
        .unwrap()
        .note
        .contains("approved by agent@organisme.example"));
    let accounts = store.accounts().unwrap();
    assert_eq!(accounts.len(), 1);
    let account = &accounts[0];
    assert_eq!(account.username, "vmartel");
    assert_eq!(account.request_id, id);
    assert!(account.password_hash.starts_with("$argon2id$"));
    assert!(store.approvals().unwrap().is_empty());
    drop(store);

    let username = desk.of_kind("username");
    let password = desk.of_kind("temporary-password");
    let approved = desk.of_kind("approved");
    assert_eq!((username.len(), password.len(), approved.len()), (1, 1, 1));
    assert_eq!(username[0].header("To"), "lea.fortin@dentaire.example");
    assert!(username[0].text().contains("vmartel"));
    assert_eq!(password[0].header("To"), "valerie.martel@dentaire.example");
    assert!(!password[0].text().contains("vmartel"), "never both in one");
    assert_eq!(approved[0].header("To"), "lea.fortin@dentaire.example");
    assert_eq!(
        approved[0].header("In-Reply-To"),
        "<form-0@dentaire.example>"
    );
    let secret = password_in(&password[0]);
    assert!(credentials::verify(&secret, &account.password_hash));
    assert!(!username[0].text().contains(&secret));
    let after_approval = desk.outbox().len();
    assert_eq!(after_approval, before + 3);

    // The same reply again (re-delivery), and a new reply on the used token.
    desk.drop_in(1_731_919_001, &approve);
    desk.drop_in(
        1_731_919_002,
        &staff_reply("again", AGENT, &token_address, TRUSTED_AUTH, "APPROUVER"),
    );
    desk.drop_in(
        1_731_919_003,
        &staff_reply(
            "late-refusal",
            AGENT,
            &token_address,
            TRUSTED_AUTH,
            "REFUSER trop tard",
        ),
    );
    desk.tick().await;
    // The re-delivery is nothing; each new reply on the used token gets
    // its notice, and acts on nothing.
    assert_eq!(desk.outbox().len(), after_approval + 2);
    assert_eq!(desk.of_kind("staff-notice").len(), 3);
    assert!(desk.of_kind("staff-notice")[2]
        .text()
        .contains("a déjà reçu une réponse"));
    let store = desk.store();
    assert_eq!(store.accounts().unwrap().len(), 1);
    assert_eq!(request_ids_of(&store, State::Approved), [id]);

    // The account can be closed by an operator, once.
    let closed = store
        .deactivate(
            "vmartel",
            "identifiants utilisés par un tiers",
            chrono::Utc::now(),
        )
        .unwrap();
    assert!(!closed.active);
    assert!(store
        .deactivate("vmartel", "again", chrono::Utc::now())
        .is_err());
    // No hand-off command configured: recorded as such.
    let handoff = store.account("vmartel").unwrap().unwrap().handoff.unwrap();
    assert!(!handoff.ok && handoff.detail.contains("no handoff_command"));
}

/// The temporary password, read from its message: the line after the
/// label in the French part, as the user would.
fn password_in(sent: &Sent) -> String {
    let text = sent.parts()[0].3.clone();
    let text = String::from_utf8(text).unwrap();
    // The password is the only 16-character word drawn from the password
    // alphabet in the text.
    text.split_whitespace()
        .find(|w| {
            w.chars().count() == credentials::PASSWORD_LEN
                && w.chars().any(|c| c.is_ascii_digit())
                && w.chars().any(|c| "!*%?=+#".contains(c))
        })
        .unwrap_or_else(|| panic!("no password in:\n{text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_is_in_one_message_and_in_the_store_only_as_a_hash() {
    let desk = Desktop::new(&[]);
    desk.drop_in(1_731_917_000, &applicant_mail(1));
    desk.tick().await;
    let token_address = desk.of_kind("approval-request")[0].reply_to();
    desk.drop_in(
        1_731_918_000,
        &staff_reply("ok", AGENT, &token_address, TRUSTED_AUTH, "APPROVE"),
    );
    desk.tick().await;
    let secret = password_in(&desk.of_kind("temporary-password")[0]);

    let carrying: Vec<String> = desk
        .outbox()
        .iter()
        .filter(|m| {
            m.text().contains(&secret)
                || m.raw.windows(secret.len()).any(|w| w == secret.as_bytes())
        })
        .map(|m| m.header("X-Guichet-Kind"))
        .collect();
    assert_eq!(carrying, ["temporary-password"]);

    // Every key and value of every tree: the outbox has been drained, and
    // the only trace of the password is its argon2 hash.
    let db = sled::open(desk.path().join("db")).unwrap();
    let mut hashes = 0;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        for item in tree.iter() {
            let (k, v) = item.unwrap();
            for bytes in [k.as_ref(), v.as_ref()] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "password found in tree {}",
                    String::from_utf8_lossy(&name)
                );
                let text = String::from_utf8_lossy(bytes);
                if text.contains("$argon2id$") {
                    hashes += 1;
                }
            }
        }
    }
    assert_eq!(hashes, 1, "one account, one hash");
    assert!(db.open_tree("outbox").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_carries_the_staff_reason_to_the_applicant() {
    let desk = Desktop::new(&[]);
    desk.drop_in(1_731_917_000, &applicant_mail(2));
    desk.tick().await;
    let token_address = desk.of_kind("approval-request")[0].reply_to();
    desk.drop_in(
        1_731_918_000,
        &staff_reply(
            "no",
            AGENT,
            &token_address,
            TRUSTED_AUTH,
            "REFUSER : le numéro de permis ne correspond pas à l'ordre",
        ),
    );
    desk.tick().await;
    let refused = desk.of_kind("refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].header("To"), "lea.fortin@dentaire.example");
    assert!(refused[0]
        .text()
        .contains("le numéro de permis ne correspond pas à l'ordre"));
    assert!(desk.of_kind("username").is_empty());
    assert!(desk.of_kind("temporary-password").is_empty());
    let store = desk.store();
    assert_eq!(store.requests(Some(State::Refused)).unwrap().len(), 1);
    assert!(store.accounts().unwrap().is_empty());
}

/// The request numbers in the approval requests sent so far, in order.
fn approval_order(desk: &Desktop) -> Vec<String> {
    desk.of_kind("approval-request")
        .iter()
        .map(|m| {
            let subject = m.header("Subject");
            let id = subject.split(' ').find(|w| w.starts_with("DA-"));
            id.unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_requests_go_by_reception_date_within_the_limit() {
    let desk = Desktop::new(&[("GUICHET__STAFF__MAX_OUTSTANDING", "1")]);
    // A first request fills the one slot.
    desk.drop_in(1_731_900_000, &applicant_mail(0));
    desk.tick().await;
    // A request received later is read first, then one received earlier
    // (a mailbox that lagged): reception date, not reading order, counts.
    desk.drop_in(1_731_930_000, &applicant_mail(3));
    desk.tick().await;
    desk.drop_in(1_731_910_000, &applicant_mail(4));
    desk.tick().await;
    assert_eq!(desk.of_kind("ack").len(), 3);
    let first = approval_order(&desk);
    assert_eq!(first.len(), 1, "one outstanding at most: {first:?}");

    let store = desk.store();
    let by_date: Vec<String> = store
        .requests(None)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    drop(store);
    // Ids follow reading order; the queue follows reception dates.
    assert_eq!(by_date.len(), 3);
    assert!(by_date[1] > by_date[2], "{by_date:?}");

    let reply_to = desk.of_kind("approval-request")[0].reply_to();
    desk.drop_in(
        1_731_940_000,
        &staff_reply("one", AGENT, &reply_to, TRUSTED_AUTH, "APPROUVER"),
    );
    desk.tick().await;
    let second = approval_order(&desk);
    assert_eq!(second, by_date[..2], "then the earlier-received one, alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_requests_spread_over_staff_up_to_the_limit() {
    let desk = Desktop::new(&[
        (
            "GUICHET__STAFF__MEMBERS",
            "agent@organisme.example,collegue@organisme.example",
        ),
        ("GUICHET__STAFF__MAX_OUTSTANDING", "2"),
    ]);
    for n in 0..6 {
        desk.drop_in(1_731_900_000 + n as i64 * 60, &applicant_mail(n));
    }
    desk.tick().await;
    let sent = desk.of_kind("approval-request");
    let to: Vec<String> = sent.iter().map(|m| m.header("To")).collect();
    assert_eq!(to.len(), 4, "two each: {to:?}");
    assert_eq!(to.iter().filter(|t| *t == AGENT).count(), 2);
    let tokens: BTreeSet<String> = sent.iter().map(|m| m.reply_to()).collect();
    assert_eq!(tokens.len(), 4, "one token per approval request");
    let store = desk.store();
    let queue: Vec<String> = store
        .requests(None)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    // One round writes them at the same instant: compare as sets.
    let out: BTreeSet<String> = approval_order(&desk).into_iter().collect();
    let oldest: BTreeSet<String> = queue[..4].iter().cloned().collect();
    assert_eq!(out, oldest, "the four oldest");

    // A reply with a token sent to the other member, from this one.
    let colleagues = sent
        .iter()
        .find(|m| m.header("To") == "collegue@organisme.example")
        .unwrap()
        .reply_to();
    drop(store);
    desk.drop_in(
        1_731_990_000,
        &staff_reply("swap", AGENT, &colleagues, TRUSTED_AUTH, "APPROUVER"),
    );
    desk.tick().await;
    assert!(desk.of_kind("username").is_empty());
    assert!(desk.store().accounts().unwrap().is_empty());
    let notices = desk.of_kind("staff-notice");
    assert_eq!(notices.len(), 1);
    assert!(notices[0].text().contains("autre membre du personnel"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_digest_goes_once_a_day_and_new_accounts_are_handed_off() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("handoff.sh");
    let received = dir.path().join("handoff.json");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > '{}'\necho recorded >&2\n",
            received.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let desk = Desktop::new(&[
        ("GUICHET__STAFF__HANDOFF_COMMAND", script.to_str().unwrap()),
        ("GUICHET__STAFF__DIGEST_HOUR", "0"),
    ]);
    desk.drop_in(1_731_917_000, &applicant_mail(5));
    desk.tick().await;
    desk.tick().await;
    let digests = desk.of_kind("digest");
    assert_eq!(digests.len(), 1, "once a day");
    assert_eq!(digests[0].header("To"), AGENT);
    let id = request_ids_of(&desk.store(), State::Queued).pop().unwrap();
    assert!(digests[0].text().contains(&id));
    // `guichet digest` (the timer) finds today's digest sent already.
    let again = guichet::daemon::housekeeping::send_digest(
        &desk.store(),
        &desk.settings(),
        &Templates::builtin(),
        None,
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(again, 0);

    let token_address = desk.of_kind("approval-request")[0].reply_to();
    desk.drop_in(
        1_731_918_000,
        &staff_reply("yes", AGENT, &token_address, TRUSTED_AUTH, "APPROUVER"),
    );
    desk.tick().await;
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&received).unwrap()).unwrap();
    assert_eq!(json["username"], "llavoie");
    assert_eq!(json["request_id"], id.as_str());
    assert_eq!(json["user"]["email"], "louis.lavoie@dentaire.example");
    assert_eq!(json["employer"]["email"], "lea.fortin@dentaire.example");
    assert_eq!(json["service"], "INSC");
    let text = json.to_string();
    assert!(!text.contains("argon2") && !text.contains("password"));
    let handoff = desk
        .store()
        .account("llavoie")
        .unwrap()
        .unwrap()
        .handoff
        .unwrap();
    assert!(handoff.ok, "{handoff:?}");
    assert!(handoff.detail.contains("recorded"), "{handoff:?}");
}

/// The French part of a message's plain text (before the English version).
fn french_text(sent: &Sent) -> String {
    let text = String::from_utf8(sent.parts()[0].3.clone())
        .unwrap()
        .replace("\r\n", "\n");
    text.split("——— English version ———")
        .next()
        .unwrap()
        .trim_end()
        .to_string()
}

/// A staff reply as a mail client writes it: `top` above the quoted
/// approval request (`>` prefixes, French attribution).
fn quoting_reply(id: &str, to: &str, top: &str, approval: &Sent) -> Vec<u8> {
    let quoted: String = String::from_utf8(approval.parts()[0].3.clone())
        .unwrap()
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "Delivered-To: {to}\r\n\
{TRUSTED_AUTH}From: Agent Dupont <{AGENT}>\r\n\
To: {to}\r\n\
Subject: Re: {}\r\n\
Message-ID: <{id}@organisme.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\
{top}\r\n\r\n\
Agent Dupont\r\n\r\n\
Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :\r\n{quoted}",
        approval.header("Subject"),
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_review_request_with_an_illegible_address_is_completed_by_one_reply() {
    let desk = Desktop::new(&[]);
    let form = b"%PDF-1.4\n%form:2\n%illegible:user.email\n%%EOF\n";
    desk.drop_in(
        1_731_917_000,
        &applicant_mail_with(2, form, "<form-2@dentaire.example>", ""),
    );
    desk.tick().await;
    let id = request_ids_of(&desk.store(), State::Review).pop().unwrap();
    let approval = &desk.of_kind("approval-request")[0];
    let plain = french_text(approval);
    assert!(plain.contains("État : à vérifier"), "{plain}");
    assert!(
        plain.contains("- Courriel de l'utilisateur : (illisible"),
        "{plain}"
    );
    assert!(
        plain.contains("\nCourriel de l'utilisateur :\n"),
        "ready to copy: {plain}"
    );
    assert!(!plain.contains("user.email") && !plain.contains("review"));
    let images = approval
        .parts()
        .into_iter()
        .filter(|p| p.0 == "image/png")
        .count();
    assert_eq!(images, 3, "the address crop and both signatures");

    let top = "APPROUVER\r\nCourriel de l'utilisateur : Chloe.Bouchard@Dentaire.example";
    let reply = quoting_reply("complete", &approval.reply_to(), top, approval);
    desk.drop_in(1_731_918_000, &reply);
    desk.tick().await;

    let to =
        |kind: &str| -> Vec<String> { desk.of_kind(kind).iter().map(|m| m.header("To")).collect() };
    assert_eq!(to("username"), ["lea.fortin@dentaire.example"]);
    assert_eq!(
        to("temporary-password"),
        ["chloe.bouchard@dentaire.example"]
    );
    assert_eq!(to("approved"), ["lea.fortin@dentaire.example"]);
    assert!(desk.of_kind("staff-notice").is_empty());
    let store = desk.store();
    let request = store.request(&id).unwrap().unwrap();
    assert_eq!(request.state, State::Approved);
    assert_eq!(request.user.email, "chloe.bouchard@dentaire.example");
    assert!(request.reasons.is_empty());
    assert!(request.history.iter().any(|h| h.note
        == "user.email set by agent@organisme.example: «» → «chloe.bouchard@dentaire.example»"));
    assert_eq!(
        store.accounts().unwrap()[0].user.email,
        "chloe.bouchard@dentaire.example"
    );

    // The transcript of the closing note: `--nocapture` shows it.
    eprintln!("=== approval request (plain text, French part)\n{plain}\n");
    eprintln!("=== staff reply\n{}\n", String::from_utf8_lossy(&reply));
    for sent in desk.outbox() {
        eprintln!(
            "=== sent: X-Guichet-Kind: {} / To: {}",
            sent.header("X-Guichet-Kind"),
            sent.header("To")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_with_a_field_still_missing_gets_a_notice_and_the_next_reply_acts() {
    let desk = Desktop::new(&[]);
    let form = b"%PDF-1.4\n%form:4\n%illegible:user.email\n%illegible:user.date\n%%EOF\n";
    desk.drop_in(
        1_731_917_000,
        &applicant_mail_with(4, form, "<form-4@dentaire.example>", ""),
    );
    desk.tick().await;
    let approval = &desk.of_kind("approval-request")[0];
    let token_address = approval.reply_to();

    // Only one of the two fields, then a value the rules refuse.
    let top = "Approuver\r\nuser.email = zoe.tremblay@dentaire.example";
    desk.drop_in(
        1_731_918_000,
        &quoting_reply("half", &token_address, top, approval),
    );
    desk.tick().await;
    let top = "APPROVE\r\nUser's e-mail: lea.fortin@dentaire.example\r\nUser's signature date: 2024-11-12";
    desk.drop_in(
        1_731_918_001,
        &quoting_reply("same", &token_address, top, approval),
    );
    desk.tick().await;
    let notices = desk.of_kind("staff-notice");
    assert_eq!(notices.len(), 2, "one notice per reply");
    let missing = notices[0].text();
    assert!(
        missing.contains("Date de signature de l'utilisateur"),
        "{missing}"
    );
    assert!(
        missing.contains("\nDate de signature de l'utilisateur :"),
        "{missing}"
    );
    assert!(notices[1].text().contains("même adresse de courriel"));
    assert_eq!(notices[1].reply_to(), token_address);
    assert!(desk.of_kind("username").is_empty());
    let store = desk.store();
    let request = &store.requests(Some(State::Review)).unwrap()[0];
    assert!(request.user.email.is_empty(), "nothing changed");
    drop(store);

    // A notice that comes back to the intake (a forwarding loop) is never
    // answered; the staff member's answer to the notice acts.
    let mut looped = notices[0].raw.clone();
    looped.splice(0..0, format!("Delivered-To: {token_address}\r\n").bytes());
    desk.drop_in(1_731_918_002, &looped);
    desk.tick().await;
    assert_eq!(desk.of_kind("staff-notice").len(), 2);
    let top = "APPROUVER\r\nCourriel de l'utilisateur : zoe.tremblay@dentaire.example\r\n\
               Date de signature de l'utilisateur : 12/11/2024";
    desk.drop_in(
        1_731_918_003,
        &quoting_reply("full", &token_address, top, &notices[0]),
    );
    desk.tick().await;
    assert_eq!(
        desk.of_kind("temporary-password")[0].header("To"),
        "zoe.tremblay@dentaire.example"
    );
    let store = desk.store();
    let request = &store.requests(Some(State::Approved)).unwrap()[0];
    assert_eq!(
        request.fields["user.date"].value, "2024-11-12",
        "normalised"
    );
    assert_eq!(desk.of_kind("staff-notice").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn corriger_sends_the_request_back_and_the_corrected_form_resumes_it() {
    let desk = Desktop::new(&[]);
    desk.drop_in(1_731_917_000, &applicant_mail(3));
    desk.tick().await;
    let id = request_ids_of(&desk.store(), State::Queued).pop().unwrap();
    let received_at = desk.store().request(&id).unwrap().unwrap().received_at;
    let approval = &desk.of_kind("approval-request")[0];
    let top = "CORRIGER La date de naissance de l'utilisateur semble erronée :\r\n\
               faites-la corriger et initialer à la page 2.";
    desk.drop_in(
        1_731_918_000,
        &quoting_reply("back", &approval.reply_to(), top, approval),
    );
    desk.tick().await;
    let corrections = desk.of_kind("correction");
    assert_eq!(corrections.len(), 1);
    let correction = &corrections[0];
    assert_eq!(correction.header("To"), "lea.fortin@dentaire.example");
    assert_eq!(
        correction.header("In-Reply-To"),
        "<form-3@dentaire.example>"
    );
    let text = correction.text();
    assert!(text.contains("La date de naissance de l'utilisateur semble erronée :"));
    assert!(text.contains("faites-la corriger et initialer à la page 2."));
    assert!(text.contains(&id));
    assert!(
        !text.contains("Agent Dupont") && !text.contains("Mathis"),
        "{text}"
    );
    assert_eq!(
        request_ids_of(&desk.store(), State::Correction),
        std::slice::from_ref(&id)
    );

    // The applicant answers the correction with the corrected form.
    let answered = correction.header("Message-ID");
    desk.drop_in(
        1_731_990_000,
        &applicant_mail_with(
            3,
            &pdf(3),
            "<form-3-fixed@dentaire.example>",
            &format!("In-Reply-To: {answered}\r\nReferences: {answered}\r\n"),
        ),
    );
    desk.tick().await;
    let store = desk.store();
    let all = store.requests(None).unwrap();
    assert_eq!(all.len(), 1, "the same request, resumed");
    assert_eq!(
        (all[0].id.as_str(), all[0].received_at),
        (id.as_str(), received_at)
    );
    assert_eq!(all[0].state, State::Queued);
    assert_eq!(
        desk.of_kind("approval-request").len(),
        2,
        "put to staff again"
    );
}
