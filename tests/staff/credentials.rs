//! Usernames and temporary passwords issued on approval.

use std::collections::HashSet;

use guichet::staff::credentials::{
    hash_password, username, verify, NoFreeUsername, TemporaryPassword, MAX_USERNAME_LEN,
    PASSWORD_LEN,
};

#[test]
fn usernames_are_readable_ascii_from_the_name() {
    let free = |_: &str| false;
    let cases = [
        ("Julie", "Tremblay", "jtremblay"),
        ("Éloïse", "Dubé-Lévesque", "edubelevesque"),
        ("Jean-François", "D'Amours", "jdamours"),
        ("  marc ", " GÉLINAS ", "mgelinas"),
        ("Chloé", "Lœwenstein", "cloewenstein"),
        ("Ægir", "Straße", "astrasse"),
        ("Søren", "Łukaszewicz", "slukaszewicz"),
        (
            "Maximilienne",
            "Vandenberghe-Oppenheimer",
            "mvandenbergheoppenhe",
        ),
        ("", "Tremblay", "tremblay"),
        ("Julie", "", "julie"),
        ("李", "王", "utilisateur"),
        ("", "", "utilisateur"),
    ];
    for (first, last, want) in cases {
        let got = username(first, last, &free).expect("free");
        assert_eq!(got, want, "{first} {last}");
        assert!(got.len() <= MAX_USERNAME_LEN);
        assert!(
            got.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{got}"
        );
    }
}

#[test]
fn collisions_get_a_number_within_the_length_limit() {
    let taken: HashSet<&str> = ["jtremblay", "jtremblay2", "mvandenbergheoppenhe"]
        .into_iter()
        .collect();
    let is_taken = |name: &str| taken.contains(name);
    assert_eq!(
        username("Julie", "Tremblay", &is_taken).as_deref(),
        Ok("jtremblay3")
    );
    assert_eq!(
        username("Jacques", "Tremblay", &|_: &str| false).as_deref(),
        Ok("jtremblay")
    );
    assert_eq!(
        username("Maximilienne", "Vandenberghe-Oppenheimer", &is_taken).as_deref(),
        Ok("mvandenbergheoppenh2")
    );
    assert_eq!(
        username("Julie", "Tremblay", &|_: &str| true),
        Err(NoFreeUsername("jtremblay".into()))
    );
}

fn classes(p: &str) -> [bool; 4] {
    [
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| c.is_ascii_punctuation()),
    ]
}

#[test]
fn temporary_passwords_are_random_unambiguous_and_mixed() {
    let look_alikes = "0Oo1lIi|5Ss2Zz8B";
    let passwords: Vec<TemporaryPassword> =
        (0..500).map(|_| TemporaryPassword::generate()).collect();
    let distinct: HashSet<&str> = passwords.iter().map(TemporaryPassword::expose).collect();
    assert_eq!(distinct.len(), passwords.len());
    let mut alphabet = HashSet::new();
    for p in &passwords {
        let s = p.expose();
        assert_eq!(s.chars().count(), PASSWORD_LEN, "{s}");
        assert!(s.chars().all(|c| c.is_ascii_graphic()), "{s}");
        assert!(!s.chars().any(|c| look_alikes.contains(c)), "{s}");
        assert_eq!(classes(s), [true; 4], "{s}");
        alphabet.extend(s.chars());
    }
    // 500 × 16 draws over a ~40-character alphabet reach all of it.
    assert!(alphabet.len() >= 40, "{} characters used", alphabet.len());
}

#[test]
fn passwords_do_not_print() {
    let p = TemporaryPassword::generate();
    let shown = format!("{p:?} {:?}", Some(&p));
    assert!(!shown.contains(p.expose()));
    assert_eq!(format!("{p:?}"), "TemporaryPassword(<redacted>)");
}

#[test]
fn argon2_hashes_verify_only_their_password() {
    let p = TemporaryPassword::generate();
    let phc = hash_password(&p).expect("hashes");
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    assert!(!phc.contains(p.expose()));
    assert!(verify(p.expose(), &phc));
    assert!(!verify("wrong password!!", &phc));
    assert!(!verify(p.expose(), "not a phc string"));
    // A random salt: the same password hashes differently each time.
    assert_ne!(hash_password(&p).expect("hashes"), phc);
}
