//! E-mail addresses, the one type for them: split once into local part and
//! domain ([`Address`]), checked for what the desk will write to
//! ([`is_valid`]), and reduced to the one key under which two spellings of
//! a mailbox are the same mailbox ([`mailbox_key`]). Configuration, the
//! message scanner, staff tokens and authentication, the rules and the
//! store all take addresses apart here, never by hand.

use std::fmt;

/// An address taken apart at its last `@`: both halves non-empty, no
/// whitespace or control character anywhere. Nothing more is promised
/// (a header's `From:` may name any domain); [`is_valid`] is the stricter
/// test an address read from a form must pass.
#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    text: String,
    at: usize,
}

impl Address {
    /// `s` trimmed, if it is one `local@domain`.
    pub fn parse(s: &str) -> Option<Address> {
        let text = s.trim();
        let at = text.rfind('@')?;
        let plain = !text.chars().any(|c| c.is_whitespace() || c.is_control());
        (plain && at > 0 && at + 1 < text.len()).then(|| Address {
            text: text.to_string(),
            at,
        })
    }

    /// Before the last `@`, as written.
    pub fn local(&self) -> &str {
        &self.text[..self.at]
    }

    /// After the last `@`, as written.
    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// This address with `+tag` added to its local part (the reply address
    /// that carries a staff token).
    pub fn tagged(&self, tag: &str) -> String {
        format!("{}+{tag}@{}", self.local(), self.domain())
    }
}

/// An address is personal data: its `Debug` shows only the domain.
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address(…@{})", self.domain())
    }
}

/// Whether an address is one we can and will write to.
///
/// Deliberately stricter than RFC 5322 (no quoted local parts, no comments,
/// no IP-literal domains, ASCII only): what people write on a paper form and
/// what an OCR reads back must be an everyday address, and whatever passes
/// here must also be accepted by the mail library that later sends the
/// username and the temporary password to it.
pub fn is_valid(address: &str) -> bool {
    const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";
    if address.len() > 254 {
        return false;
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    // (`split_once`, not `Address`: a second `@` must make it invalid.)
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok && address.parse::<lettre::Address>().is_ok()
}

/// The mailbox an address delivers to, for comparing addresses and for
/// looking them up in the store: lower case, `+tag` removed
/// (`Marie.Roy+clinique@X.ca` and `marie.roy@x.ca` are one mailbox).
/// The store must key addresses with this same function.
pub fn mailbox_key(address: &str) -> String {
    let lower = address.trim().to_lowercase();
    match Address::parse(&lower) {
        Some(a) => {
            let local = a
                .local()
                .split_once('+')
                .map_or(a.local(), |(base, _)| base);
            format!("{local}@{}", a.domain())
        }
        None => lower,
    }
}

/// The local part of a mailbox key (before `@`).
pub fn local_part(key: &str) -> &str {
    key.split_once('@').map_or(key, |(local, _)| local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        let cases = [
            ("marie.roy@clinique.ca", true),
            ("m.roy+dossiers@clinique-rosemont.qc.ca", true),
            ("o'brien@videotron.ca", true),
            ("msimard bell.net", false),
            ("msimard@bell", false),
            ("msimard@bell.", false),
            ("msimard@@bell.net", false),
            ("m simard@bell.net", false),
            ("msimard@bell net.ca", false),
            (".msimard@bell.net", false),
            ("m..simard@bell.net", false),
            ("msimard@-bell.net", false),
            ("msimard@bell.c0m", false),
            ("amélie@bell.net", false),
            ("@bell.net", false),
            ("", false),
        ];
        for (address, valid) in cases {
            assert_eq!(is_valid(address), valid, "{address}");
        }
        assert!(!is_valid(&format!("{}@bell.net", "a".repeat(65))));
    }

    #[test]
    fn addresses_split_at_the_last_at() {
        let a = Address::parse(" \"a@b\"@x.example ").unwrap();
        assert_eq!((a.local(), a.domain()), ("\"a@b\"", "x.example"));
        assert_eq!(
            Address::parse("acces@org.example").unwrap().tagged("t0k"),
            "acces+t0k@org.example"
        );
        for bad in ["", "@x.ca", "a@", "a b@x.ca", "a@x\u{7}.ca", "plain"] {
            assert!(Address::parse(bad).is_none(), "{bad:?}");
        }
        let shown = format!("{:?}", Address::parse("marie.roy@x.ca").unwrap());
        assert!(!shown.contains("marie"), "{shown}");
    }

    #[test]
    fn keys_ignore_case_and_tags() {
        assert_eq!(mailbox_key(" Marie.Roy+Clinique@X.ca "), "marie.roy@x.ca");
        assert_eq!(mailbox_key("a+b+c@x.ca"), "a@x.ca");
        assert_eq!(local_part("info@x.ca"), "info");
    }
}
