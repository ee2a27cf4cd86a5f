//! Table-driven tests of `decide`, without I/O (the generator's truth is
//! checked against the rules in `tests/gencorpus.rs`).

use super::*;
use crate::domain::{FieldReading, Outcome, Signatures};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 11, 18).unwrap()
}

/// A complete, valid form.
fn good() -> FormReport {
    let fields = [
        ("employer.last_name", "Gélinas"),
        ("employer.first_name", "Marie-Ève"),
        ("employer.licence", "104382"),
        ("employer.phone", "819 555-4727"),
        ("employer.organisation", "Clinique St-Denis"),
        ("employer.email", "me.gelinas@cliniquestdenis.ca"),
        ("employer.date", "2024-11-04"),
        ("user.last_name", "Bureau"),
        ("user.first_name", "Patrick"),
        ("user.birth_date", "1972-08-25"),
        ("user.job_title", "Adjoint administratif"),
        ("user.email", "patrick.bureau@videotron.ca"),
        ("user.date", "2024-11-07"),
    ];
    FormReport {
        forms: 1,
        pages: 2,
        ticked: vec!["FACT".into()],
        signatures: Signatures {
            employer: true,
            user: true,
        },
        fields: fields
            .iter()
            .map(|(id, value)| {
                let reading = FieldReading {
                    value: value.to_string(),
                    confidence: 0.95,
                };
                (id.to_string(), reading)
            })
            .collect(),
        illegible: vec![],
        unseen: Default::default(),
        crops: vec![],
    }
}

/// Page `page` cut off: its zones `ids` not seen, and nothing read there.
fn cut_off(report: &mut FormReport, page: u32, ids: &[&str]) {
    for id in ids {
        report.fields.remove(*id);
        report.unseen.insert(id.to_string(), page);
    }
}

fn set(report: &mut FormReport, id: &str, value: &str) {
    report.fields.insert(
        id.to_string(),
        FieldReading {
            value: value.to_string(),
            confidence: 0.9,
        },
    );
}

/// An in-memory registry.
#[derive(Default)]
struct Known {
    emails: Vec<(String, Person)>,
    active: Vec<RequestKey>,
}

impl Registry for Known {
    fn people_with_email(&self, key: &str) -> Vec<Person> {
        self.emails
            .iter()
            .filter(|(email, _)| email == key)
            .map(|(_, person)| person.clone())
            .collect()
    }
    fn has_active_request(&self, key: &RequestKey) -> bool {
        self.active.iter().any(|k| {
            k.licence == key.licence && k.service == key.service && k.user.is_same(&key.user)
        })
    }
}

fn user_on_file(last: &str, first: &str, born: &str) -> Person {
    Person {
        last_name: last.into(),
        first_name: first.into(),
        identity: Identity::BirthDate(born.parse().unwrap()),
    }
}

fn codes(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(Reason::to_string).collect()
}

type Edit = fn(&mut FormReport);

/// (what, edit of a good form, expected reasons, expected outcome)
const CASES: &[(&str, Edit, &[&str], Outcome)] = &[
    ("complete", |_| {}, &[], Outcome::Queued),
    (
        "two forms in one file: only multi_form",
        |r| {
            r.forms = 2;
            r.signatures.user = false;
            r.ticked.clear();
        },
        &["multi_form"],
        Outcome::Rejected,
    ),
    (
        "page 2 cut off at the bottom: the scan again, not its fields",
        |r| {
            cut_off(r, 2, &["user.email", "user.signature", "user.date"]);
            r.signatures.user = false;
        },
        &["incomplete_scan"],
        Outcome::Correction,
    ),
    (
        "a zone seen empty on a page cut elsewhere is still missing",
        |r| {
            cut_off(r, 2, &["user.date"]);
            r.fields.remove("user.job_title");
        },
        &["missing_field:user.job_title", "incomplete_scan"],
        Outcome::Correction,
    ),
    (
        "a value read in a zone not seen whole counts",
        |r| {
            r.unseen.insert("user.email".into(), 2);
        },
        &[],
        Outcome::Queued,
    ),
    (
        "an optional field not seen asks for nothing",
        |r| cut_off(r, 1, &["employer.phone"]),
        &[],
        Outcome::Queued,
    ),
    (
        "both pages cut off",
        |r| {
            cut_off(r, 1, &["employer.date"]);
            cut_off(r, 2, &["user.date"]);
        },
        &["incomplete_scan"],
        Outcome::Correction,
    ),
    (
        "service boxes cut off, none ticked: no service_count",
        |r| {
            r.ticked.clear();
            cut_off(r, 1, &["service.FACT", "service.INSC"]);
        },
        &["incomplete_scan"],
        Outcome::Correction,
    ),
    (
        "an illegible field beside a cut-off page stays illegible",
        |r| {
            cut_off(r, 1, &["employer.signature"]);
            r.signatures.employer = false;
            r.fields.remove("user.email");
            r.illegible.push("user.email".into());
        },
        &["incomplete_scan", "illegible:user.email"],
        Outcome::Correction,
    ),
    (
        "no service",
        |r| r.ticked.clear(),
        &["service_count"],
        Outcome::Correction,
    ),
    (
        "two services",
        |r| r.ticked.push("PAIE".into()),
        &["service_count"],
        Outcome::Correction,
    ),
    (
        "optional fields empty",
        |r| {
            r.fields.remove("employer.phone");
            r.fields.remove("employer.organisation");
        },
        &[],
        Outcome::Queued,
    ),
    (
        "blank value is absent",
        |r| set(r, "user.job_title", "   "),
        &["missing_field:user.job_title"],
        Outcome::Correction,
    ),
    (
        "absent e-mail is missing, not invalid",
        |r| {
            r.fields.remove("user.email");
        },
        &["missing_field:user.email"],
        Outcome::Correction,
    ),
    (
        "employer signature",
        |r| r.signatures.employer = false,
        &["missing_signature:employer"],
        Outcome::Correction,
    ),
    (
        "user signature",
        |r| r.signatures.user = false,
        &["missing_signature:user"],
        Outcome::Correction,
    ),
    (
        "both signatures",
        |r| r.signatures = Signatures::default(),
        &["missing_signature:employer", "missing_signature:user"],
        Outcome::Correction,
    ),
    (
        "licence of 5 digits",
        |r| set(r, "employer.licence", "10438"),
        &["missing_field:employer.licence"],
        Outcome::Correction,
    ),
    (
        "licence of 7 digits",
        |r| set(r, "employer.licence", "1043821"),
        &["missing_field:employer.licence"],
        Outcome::Correction,
    ),
    (
        "licence with a letter",
        |r| set(r, "employer.licence", "10438O"),
        &["missing_field:employer.licence"],
        Outcome::Correction,
    ),
    (
        "signed on the day of reception",
        |r| set(r, "user.date", "2024-11-18"),
        &[],
        Outcome::Queued,
    ),
    (
        "signed in the future",
        |r| set(r, "employer.date", "2024-11-19"),
        &["missing_field:employer.date"],
        Outcome::Correction,
    ),
    (
        "no such day",
        |r| set(r, "user.date", "2024-02-30"),
        &["missing_field:user.date"],
        Outcome::Correction,
    ),
    (
        "not in YYYY-MM-DD",
        |r| set(r, "user.date", "18/11/2024"),
        &["missing_field:user.date"],
        Outcome::Correction,
    ),
    (
        "18 today is an adult",
        |r| set(r, "user.birth_date", "2006-11-18"),
        &[],
        Outcome::Queued,
    ),
    (
        "18 tomorrow is a minor",
        |r| set(r, "user.birth_date", "2006-11-19"),
        &["missing_field:user.birth_date"],
        Outcome::Correction,
    ),
    (
        "over a hundred",
        |r| set(r, "user.birth_date", "1920-01-01"),
        &["missing_field:user.birth_date"],
        Outcome::Correction,
    ),
    (
        "born in the future",
        |r| set(r, "user.birth_date", "2030-01-01"),
        &["missing_field:user.birth_date"],
        Outcome::Correction,
    ),
    (
        "invalid employer e-mail",
        |r| set(r, "employer.email", "me.gelinas cliniquestdenis.ca"),
        &["invalid_email:employer"],
        Outcome::Correction,
    ),
    (
        "invalid user e-mail",
        |r| set(r, "user.email", "msimard@bell"),
        &["invalid_email:user"],
        Outcome::Correction,
    ),
    (
        "two identical invalid e-mails are not compared",
        |r| {
            set(r, "employer.email", "info bell.net");
            set(r, "user.email", "info bell.net");
        },
        &["invalid_email:employer", "invalid_email:user"],
        Outcome::Correction,
    ),
    (
        "same e-mail",
        |r| set(r, "user.email", "me.gelinas@cliniquestdenis.ca"),
        &["same_email"],
        Outcome::Correction,
    ),
    (
        "same mailbox under case and +tag",
        |r| set(r, "user.email", "ME.Gelinas+pat@CliniqueStDenis.ca"),
        &["same_email"],
        Outcome::Correction,
    ),
    (
        "shared employer e-mail",
        |r| set(r, "employer.email", "info@cliniquestdenis.ca"),
        &["shared_email:employer"],
        Outcome::Correction,
    ),
    (
        "shared user e-mail, French, tagged and dotted",
        |r| set(r, "user.email", "secre.tariat+dr@cliniquestdenis.ca"),
        &["shared_email:user"],
        Outcome::Correction,
    ),
    (
        "role word first, then a place",
        |r| set(r, "user.email", "accueil.rosemont@cliniquestdenis.ca"),
        &["shared_email:user"],
        Outcome::Correction,
    ),
    (
        "a role word that is the person's own name",
        |r| set(r, "user.email", "bureau.p@videotron.ca"),
        &[],
        Outcome::Queued,
    ),
    (
        "both shared and the same",
        |r| {
            set(r, "employer.email", "reception@clinique.ca");
            set(r, "user.email", "reception@clinique.ca");
        },
        &["same_email", "shared_email:employer", "shared_email:user"],
        Outcome::Correction,
    ),
    (
        "illegible required field",
        |r| {
            r.fields.remove("user.email");
            r.illegible.push("user.email".into());
        },
        &["illegible:user.email"],
        Outcome::Review,
    ),
    (
        "illegible field with a guess is not checked",
        |r| {
            set(r, "employer.licence", "1O4");
            r.illegible.push("employer.licence".into());
        },
        &["illegible:employer.licence"],
        Outcome::Review,
    ),
    (
        "illegible optional field decides nothing",
        |r| {
            r.fields.remove("employer.phone");
            r.illegible.push("employer.phone".into());
        },
        &[],
        Outcome::Queued,
    ),
    (
        "correction wins over review, all listed in table order",
        |r| {
            r.signatures.user = false;
            r.ticked.clear();
            r.fields.remove("user.job_title");
            r.fields.remove("employer.last_name");
            r.illegible.push("user.birth_date".into());
            set(r, "employer.email", "x@y");
            set(r, "user.email", "contact@clinique.ca");
        },
        &[
            "missing_signature:user",
            "missing_field:employer.last_name",
            "missing_field:user.job_title",
            "invalid_email:employer",
            "shared_email:user",
            "service_count",
            "illegible:user.birth_date",
        ],
        Outcome::Correction,
    ),
];

#[test]
fn each_case_gives_its_reasons_and_outcome() {
    let roles = RoleList::builtin();
    for (what, edit, expected, outcome) in CASES {
        let mut report = good();
        edit(&mut report);
        let reasons = decide(&report, &Known::default(), &roles, today());
        assert_eq!(codes(&reasons), *expected, "{what}");
        assert_eq!(Reason::outcome_of(&reasons), *outcome, "{what}");
    }
}

#[test]
fn every_required_field_missing_is_named() {
    let roles = RoleList::builtin();
    for (id, _) in REQUIRED {
        let mut report = good();
        report.fields.remove(id.as_str());
        let reasons = decide(&report, &Known::default(), &roles, today());
        assert_eq!(codes(&reasons), [format!("missing_field:{id}")], "{id}");
    }
    let mut report = good();
    report.fields.clear();
    let reasons = decide(&report, &Known::default(), &roles, today());
    assert_eq!(reasons.len(), REQUIRED.len());
}

#[test]
fn email_on_file_for_another_person_is_in_use() {
    let roles = RoleList::builtin();
    let mut known = Known::default();
    known.emails.push((
        "patrick.bureau@videotron.ca".into(),
        user_on_file("Bureau", "Patricia", "1975-01-01"),
    ));
    let mut report = good();
    // A +tag does not make it another mailbox.
    set(&mut report, "user.email", "Patrick.Bureau+x@videotron.ca");
    let reasons = decide(&report, &known, &roles, today());
    assert_eq!(codes(&reasons), ["email_in_use:user"]);
    assert_eq!(Reason::outcome_of(&reasons), Outcome::Correction);
}

#[test]
fn email_on_file_for_the_same_person_is_fine() {
    let roles = RoleList::builtin();
    let mut known = Known::default();
    // The same person, written without accents or capitals, for another service.
    known.emails.push((
        "patrick.bureau@videotron.ca".into(),
        user_on_file("BUREAU", "patrick", "1972-08-25"),
    ));
    known.emails.push((
        "me.gelinas@cliniquestdenis.ca".into(),
        Person {
            last_name: "Gelinas".into(),
            first_name: "Marie Eve".into(),
            identity: Identity::Licence("104382".into()),
        },
    ));
    known.active.push(RequestKey {
        licence: "104382".into(),
        user: user_on_file("Bureau", "Patrick", "1972-08-25"),
        service: "PAIE".into(),
    });
    let reasons = decide(&good(), &known, &roles, today());
    assert_eq!(codes(&reasons), Vec::<String>::new());
}

#[test]
fn employer_email_on_file_for_another_professional_is_in_use() {
    let roles = RoleList::builtin();
    let mut known = Known::default();
    known.emails.push((
        "me.gelinas@cliniquestdenis.ca".into(),
        Person {
            last_name: "Gélinas".into(),
            first_name: "Marie-Ève".into(),
            identity: Identity::Licence("999999".into()),
        },
    ));
    let reasons = decide(&good(), &known, &roles, today());
    assert_eq!(codes(&reasons), ["email_in_use:employer"]);
}

#[test]
fn same_professional_user_and_service_is_a_duplicate() {
    let roles = RoleList::builtin();
    let mut known = Known::default();
    known.active.push(RequestKey {
        licence: "104382".into(),
        user: user_on_file("Bureau", "Patrick", "1972-08-25"),
        service: "FACT".into(),
    });
    let reasons = decide(&good(), &known, &roles, today());
    assert_eq!(codes(&reasons), ["duplicate"]);
    assert_eq!(Reason::outcome_of(&reasons), Outcome::Rejected);

    // Listed with the other faults, and it wins.
    let mut report = good();
    report.signatures.employer = false;
    let reasons = decide(&report, &known, &roles, today());
    assert_eq!(codes(&reasons), ["duplicate", "missing_signature:employer"]);
    assert_eq!(Reason::outcome_of(&reasons), Outcome::Rejected);

    // Without a readable licence, the question cannot be asked yet.
    report.fields.remove("employer.licence");
    let reasons = decide(&report, &known, &roles, today());
    assert!(!reasons.contains(&Reason::Duplicate));
}

#[test]
fn every_form_reason_code_is_covered() {
    // The codes `decide` can give; the others come from reading the file.
    let mut seen: Vec<String> = CASES
        .iter()
        .flat_map(|(_, _, expected, _)| expected.iter())
        .map(|code| code.split(':').next().unwrap_or_default().to_string())
        .collect();
    seen.extend(["email_in_use".to_string(), "duplicate".to_string()]);
    for code in [
        "multi_form",
        "duplicate",
        "missing_signature",
        "missing_field",
        "invalid_email",
        "same_email",
        "shared_email",
        "email_in_use",
        "service_count",
        "incomplete_scan",
        "illegible",
    ] {
        assert!(seen.iter().any(|s| s == code), "{code} untested");
    }
}

#[test]
fn incomplete_scan_names_the_pages_that_matter() {
    let roles = RoleList::builtin();
    let mut report = good();
    cut_off(&mut report, 2, &["user.date"]);
    cut_off(&mut report, 1, &["employer.organisation"]);
    let reasons = decide(&report, &Known::default(), &roles, today());
    assert_eq!(reasons, [Reason::IncompleteScan(vec![2])]);
    cut_off(&mut report, 1, &["employer.signature"]);
    report.signatures.employer = false;
    let reasons = decide(&report, &Known::default(), &roles, today());
    assert_eq!(reasons, [Reason::IncompleteScan(vec![1, 2])]);
}
