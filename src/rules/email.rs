//! E-mail addresses as the rules see them: valid or not, and the one key
//! under which two spellings of a mailbox are the same mailbox.

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
    match lower.split_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(base, _)| base);
            format!("{local}@{domain}")
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
    fn keys_ignore_case_and_tags() {
        assert_eq!(mailbox_key(" Marie.Roy+Clinique@X.ca "), "marie.roy@x.ca");
        assert_eq!(mailbox_key("a+b+c@x.ca"), "a@x.ca");
        assert_eq!(local_part("info@x.ca"), "info");
    }
}
