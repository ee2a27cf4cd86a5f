//! The configuration files of the test stack, as text.

use std::path::Path;

use super::{Options, Ports};

/// Dovecot: IMAP (and IMAPS when TLS) and LMTP on loopback, users from a
/// passwd-file with `{PLAIN}` passwords, mail in Maildirs owned by `vmail`.
pub fn dovecot(dir: &Path, ports: &Ports, options: &Options, (uid, gid): (u32, u32)) -> String {
    let d = dir.display();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ssl = if options.tls {
        format!("ssl = yes\nssl_cert = <{d}/tls/server.pem\nssl_key = <{d}/tls/server.key\n")
    } else {
        "ssl = no\n".to_string()
    };
    let imaps_port = if options.tls { ports.imaps } else { 0 };
    let capability = options
        .imap_capability
        .as_ref()
        .map(|c| format!("imap_capability = {c}\n"))
        .unwrap_or_default();
    let namespace = if options.inbox_prefix {
        "  prefix = INBOX.\n  separator = .\n"
    } else {
        "  separator = /\n"
    };
    let (oauth_mechanisms, oauth_passdb) = if options.oauth2 {
        (
            " xoauth2 oauthbearer",
            format!(
                "auth_verbose = yes\npassdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  \
                 args = {d}/dovecot/dovecot-oauth2.conf.ext\n}}\n"
            ),
        )
    } else {
        ("", String::new())
    };
    format!(
        r#"protocols = imap lmtp
listen = 127.0.0.1
base_dir = {d}/dovecot/run
state_dir = {d}/dovecot/state
instance_name = {name}
log_path = {d}/dovecot/dovecot.log
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 1
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
mailbox_idle_check_interval = 1 secs
{capability}namespace inbox {{
  inbox = yes
{namespace}}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/dovecot/passwd
}}
{oauth_passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps_port}
  }}
}}
service auth {{
  unix_listener {d}/dovecot/auth-postfix {{
    mode = 0666
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"#,
        imap = ports.imap,
        lmtp = ports.lmtp,
    )
}

/// Dovecot's OAuth 2.0 settings: JWTs validated locally against the HS256
/// key in `keys/` (looked up as `<azp>/<alg>/<kid>`: `default/HS256/default`),
/// the user name taken from the `email` claim.
pub fn dovecot_oauth2(dir: &Path) -> String {
    format!(
        "introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={}/dovecot/keys/\n\
         username_attribute = email\n",
        dir.display()
    )
}

/// Postfix: accepts mail for the test domains only, delivers it to Dovecot
/// over LMTP, refuses everything else with a 5xx.
pub fn postfix_main(dir: &Path, ports: &Ports, options: &Options) -> String {
    let p = dir.join("postfix");
    let p = p.display();
    let d = dir.display();
    let tls = if options.tls {
        format!(
            "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {d}/tls/server.pem\n\
             smtpd_tls_key_file = {d}/tls/server.key\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"compatibility_level = 3.6
queue_directory = {p}/queue
data_directory = {p}/data
maillog_file = {p}/postfix.log
maillog_file_prefixes = {p}
myhostname = mx.organisme.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = organisme.example clinique.example
virtual_mailbox_maps = texthash:{p}/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
default_transport = error:no mail leaves the test stack
relay_transport = error:no mail leaves the test stack
smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination
recipient_delimiter = +
# SMTP AUTH against Dovecot's user list: on the submission port, and on
# the others in TLS stacks only, so that plain stacks take mail while
# Dovecot is down, as a real MX would.
smtpd_sasl_auth_enable = {sasl_everywhere}
smtpd_sasl_type = dovecot
smtpd_sasl_path = {d}/dovecot/auth-postfix
# Nobody outside may pass off an Authentication-Results of this server.
header_checks = regexp:{p}/header_checks
message_size_limit = 52428800
smtputf8_enable = no
biff = no
# Mail deferred while Dovecot is down goes in seconds after it returns.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
{tls}"#,
        lmtp = ports.lmtp,
        sasl_everywhere = if options.tls { "yes" } else { "no" },
    )
}

/// The `Authentication-Results` line this server stands behind.
const FORGED: &str =
    "/^Authentication-Results:[[:space:]]*mx\\.organisme\\.example([;[:space:]]|$)/ IGNORE";

/// Header checks of all mail: forged results of this server are dropped.
pub fn header_checks() -> String {
    format!("{FORGED}\n")
}

/// Header checks of authenticated submissions: a sender of the
/// organisation's domain gets the results its real MX would write after
/// DKIM and DMARC checks.
pub fn auth_header_checks() -> String {
    format!(
        "{FORGED}\n/^From:.*@organisme\\.example>?[[:space:]]*$/ PREPEND Authentication-Results: {}; \
         dkim=pass header.d=organisme.example; dmarc=pass (p=reject) header.from=organisme.example\n",
        super::AUTHSERV_ID
    )
}
