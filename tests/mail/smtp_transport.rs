//! The SMTP transport against a real Postfix: replies land in the
//! recipient's mailbox unchanged; failures of the server or the sign-in
//! (outage, refused login, untrusted certificate) pause sending, a refused
//! recipient is permanent for its message.

use std::time::Duration;

use crate::mailstack::{mail, reply, MailStack, Options, APPLICANTS, INTAKE};
use guichet::outbox::smtp::SmtpTransport;
use guichet::outbox::{Outgoing, SendError, Transport};

const DELIVERY: Duration = Duration::from_secs(15);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_reply_lands_unchanged_in_the_applicant_mailbox() {
    let stack = MailStack::start();
    let transport = SmtpTransport::new(&stack.smtp_config()).unwrap();
    let out = reply(APPLICANTS[0], "Accuse de reception 1");
    transport.send(&out).await.unwrap();
    let got = stack
        .wait_for_messages(APPLICANTS[0], "INBOX", 1, DELIVERY)
        .await;
    assert_eq!(got.len(), 1);
    assert!(
        contains(&got[0], b"Received: from "),
        "Postfix's trace header is there"
    );
    assert!(
        contains(&got[0], &out.raw),
        "the message is delivered byte for byte after the trace headers"
    );
    assert!(stack.messages(APPLICANTS[1], "INBOX").await.is_empty());
}

#[tokio::test]
async fn postfix_down_is_the_servers_failure_and_sending_resumes_when_it_returns() {
    let mut stack = MailStack::start();
    let transport =
        SmtpTransport::with_timeout(&stack.smtp_config(), Duration::from_secs(5)).unwrap();
    stack.stop_postfix();
    let out = reply(APPLICANTS[1], "Accuse de reception 2");
    match transport.send(&out).await {
        Err(SendError::Server(why)) => assert!(why.starts_with("connection: "), "{why}"),
        other => panic!("expected a failure of the server, got {other:?}"),
    }
    stack.start_postfix();
    transport.send(&out).await.unwrap();
    let got = stack
        .wait_for_messages(APPLICANTS[1], "INBOX", 1, DELIVERY)
        .await;
    assert_eq!(got.len(), 1, "sent once, received once");
}

#[tokio::test]
async fn refused_recipients_are_permanent() {
    let stack = MailStack::start();
    let transport = SmtpTransport::new(&stack.smtp_config()).unwrap();
    for to in ["nobody@organisme.example", "someone@elsewhere.example"] {
        match transport.send(&reply(to, "Refus")).await {
            Err(SendError::Permanent(why)) => assert!(why.contains("550"), "{why}"),
            other => panic!("{to}: expected a permanent failure, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn submission_over_starttls_and_implicit_tls_with_a_private_ca() {
    let stack = MailStack::start_with(Options {
        tls: true,
        ..Options::default()
    });
    let starttls = SmtpTransport::new(&stack.submission_config(INTAKE)).unwrap();
    starttls
        .send(&reply(APPLICANTS[2], "Par STARTTLS"))
        .await
        .unwrap();

    let mut implicit = stack.submission_config(INTAKE);
    implicit.tls = guichet::config::Tls::Implicit;
    implicit.port = stack.ports.smtps;
    SmtpTransport::new(&implicit)
        .unwrap()
        .send(&reply(APPLICANTS[2], "Par SMTPS"))
        .await
        .unwrap();

    let got = stack
        .wait_for_messages(APPLICANTS[2], "INBOX", 2, DELIVERY)
        .await;
    assert_eq!(got.len(), 2);

    let mut wrong = stack.submission_config(INTAKE);
    wrong.password = Some("not the password".into());
    match SmtpTransport::new(&wrong)
        .unwrap()
        .send(&reply(APPLICANTS[2], "Refus"))
        .await
    {
        Err(SendError::Server(why)) => {
            assert!(
                why.starts_with("authentication: ") && why.contains("535"),
                "{why}"
            )
        }
        other => panic!("bad credentials: expected a refused sign-in, got {other:?}"),
    }

    let mut untrusted = stack.submission_config(INTAKE);
    untrusted.ca_file = None;
    match SmtpTransport::new(&untrusted)
        .unwrap()
        .send(&reply(APPLICANTS[2], "Refus"))
        .await
    {
        Err(SendError::Server(why)) => assert!(why.starts_with("tls: "), "{why}"),
        other => panic!("unknown CA: expected a failure of the server, got {other:?}"),
    }
}

#[tokio::test]
async fn plus_addressed_mail_reaches_the_intake_mailbox() {
    let stack = MailStack::start();
    let transport = SmtpTransport::new(&stack.smtp_config()).unwrap();
    let token_address = "acces+a1b2c3@organisme.example";
    let out = Outgoing {
        id: "approval".into(),
        envelope_from: crate::mailstack::STAFF.into(),
        to: vec![token_address.into()],
        raw: mail(
            crate::mailstack::STAFF,
            token_address,
            "Re: Demande a1b2c3",
            "Approuvé.",
        ),
    };
    transport.send(&out).await.unwrap();
    let got = stack.wait_for_messages(INTAKE, "INBOX", 1, DELIVERY).await;
    assert_eq!(got.len(), 1);
    let delivered_to = format!("Delivered-To: {token_address}");
    assert!(
        contains(&got[0], delivered_to.as_bytes()),
        "the token survives delivery"
    );
    assert!(contains(&got[0], format!("To: {token_address}").as_bytes()));
}

#[tokio::test]
async fn staff_mail_is_vouched_for_and_forged_results_are_dropped() {
    use crate::mailstack::{AUTHSERV_ID, STAFF};
    let stack = MailStack::start();
    let approval = mail(
        STAFF,
        "acces+t0k3n@organisme.example",
        "Re: Demande",
        "APPROUVER",
    );
    stack
        .send_authenticated(STAFF, &["acces+t0k3n@organisme.example"], &approval)
        .await
        .unwrap();
    let forged_header = format!(
        "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=organisme.example\r\n"
    );
    let forged = [
        forged_header.as_bytes(),
        &mail(STAFF, INTAKE, "Re: Faux", "APPROUVER"),
    ]
    .concat();
    stack.send(STAFF, &[INTAKE], &forged).await.unwrap();
    assert!(
        stack
            .send_authenticated(APPLICANTS[0], &[INTAKE], b"Subject: x\r\n\r\nx\r\n")
            .await
            .is_ok(),
        "any user may log in; only the organisation's domain is vouched for"
    );

    let got = stack.wait_for_messages(INTAKE, "INBOX", 3, DELIVERY).await;
    assert_eq!(got.len(), 3);
    let vouched = format!("Authentication-Results: {AUTHSERV_ID}; dkim=pass");
    let with_results: Vec<bool> = got
        .iter()
        .map(|m| contains(m, vouched.as_bytes()))
        .collect();
    let genuine = got
        .iter()
        .position(|m| contains(m, b"Subject: Re: Demande"))
        .unwrap();
    let faked = got
        .iter()
        .position(|m| contains(m, b"Subject: Re: Faux"))
        .unwrap();
    assert!(
        with_results[genuine],
        "{}",
        String::from_utf8_lossy(&got[genuine])
    );
    assert!(contains(&got[genuine], b"dmarc=pass"));
    assert!(
        !contains(&got[faked], b"Authentication-Results"),
        "forged results are dropped: {}",
        String::from_utf8_lossy(&got[faked])
    );
    assert_eq!(
        with_results.iter().filter(|v| **v).count(),
        1,
        "the applicant's domain is not vouched for"
    );

    let mut unauthenticated = stack.smtp_config();
    unauthenticated.port = stack.ports.submission;
    let refused = SmtpTransport::new(&unauthenticated)
        .unwrap()
        .send(&reply(INTAKE, "Sans login"))
        .await;
    assert!(
        matches!(refused, Err(SendError::Permanent(_))),
        "{refused:?}"
    );
}
