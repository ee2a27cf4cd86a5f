//! The one doubt OCR leaves in handwritten e-mail addresses: a plain
//! vertical stroke is read as a capital `I`, which may stand for `l` or
//! `i` (addresses are written and compared in lower case). Lower-casing
//! it to `i` would be a guess; a clerk looks at the names on the form
//! instead: `Ithibault@…` next to Luc Thibault is `lthibault@…`.
//!
//! So a reading keeps its capital I's (every other letter is lower-cased)
//! until the form's names are known; then exactly one way of reading them
//! must spell the address's local part out of the same person's names and
//! initials, or the field stays illegible.

use super::kinds::normalise;
use crate::reader::layout::Kind;

/// More capital I's than this in one address are not worth resolving.
const MAX_DOUBTS: usize = 3;

/// Stands for a capital I while the rest of the address is lower-cased.
const MARK: char = '\u{1}';

/// The address normalised as usual, except that capital I's stay.
pub fn normalise_keeping_doubts(raw: &str) -> Option<String> {
    // A bar is the same stroke, read without a whitelist.
    let marked = raw.replace(['I', '|'], &MARK.to_string());
    normalise(Kind::Email, &marked).map(|v| v.replace(MARK, "I"))
}

/// The address two readings agree on, where a doubtful capital I in one
/// may be the other's `l` or `i`: that letter is taken.
pub fn reconcile(a: &str, b: &str) -> Option<String> {
    if a.chars().count() != b.chars().count() {
        return None;
    }
    a.chars()
        .zip(b.chars())
        .map(|pair| match pair {
            (x, y) if x == y => Some(x),
            ('I', x @ ('l' | 'i')) | (x @ ('l' | 'i'), 'I') => Some(x),
            _ => None,
        })
        .collect()
}

/// Whether an address read still holds a doubt to settle.
pub fn is_doubtful(value: &str) -> bool {
    value.contains('I')
}

/// The one reading of the capital I's in `value` (as `l` or `i`) whose
/// local part is spelt by the person's names and initials, if exactly one.
pub fn settle(value: &str, first_name: Option<&str>, last_name: Option<&str>) -> Option<String> {
    let doubts = value.matches('I').count();
    if doubts == 0 || doubts > MAX_DOUBTS {
        return None;
    }
    let words = name_words(first_name, last_name);
    if words.is_empty() {
        return None;
    }
    let spelt: Vec<String> = (0..1u32 << doubts)
        .map(|choice| {
            let mut n = 0;
            value
                .chars()
                .map(|c| {
                    if c != 'I' {
                        return c;
                    }
                    n += 1;
                    if choice & (1 << (n - 1)) == 0 {
                        'l'
                    } else {
                        'i'
                    }
                })
                .collect::<String>()
        })
        .filter(|candidate| {
            let local = candidate.split('@').next().unwrap_or_default();
            let letters: String = local.chars().filter(char::is_ascii_lowercase).collect();
            spelt_by(&letters, &words)
        })
        .collect();
    match spelt.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The person's names as they appear in addresses: each name whole and
/// each of its parts ([`crate::fold::name_parts`]), and their initials.
fn name_words(first_name: Option<&str>, last_name: Option<&str>) -> Vec<String> {
    let mut words = Vec::new();
    for name in [first_name, last_name].into_iter().flatten() {
        let parts = crate::fold::name_parts(name);
        words.push(parts.concat());
        for part in parts {
            words.push(part[..1].to_string());
            words.push(part);
        }
    }
    words.retain(|w| !w.is_empty());
    words.sort();
    words.dedup();
    words
}

/// Whether `letters` is a sequence of `words`, with at least one word
/// longer than an initial (initials alone explain too many addresses).
fn spelt_by(letters: &str, words: &[String]) -> bool {
    if letters.is_empty() {
        return false;
    }
    // reach[i]: letters[..i] is spelt; the flag says a whole word was used.
    let mut reach: Vec<Option<bool>> = vec![None; letters.len() + 1];
    reach[0] = Some(false);
    for i in 0..letters.len() {
        let Some(whole) = reach[i] else {
            continue;
        };
        for word in words {
            if letters[i..].starts_with(word.as_str()) {
                let next = &mut reach[i + word.len()];
                let used = whole || word.len() > 1;
                *next = Some(next.unwrap_or(false) || used);
            }
        }
    }
    reach[letters.len()] == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capital_i_survives_normalising_and_nothing_else_does() {
        assert_eq!(
            normalise_keeping_doubts("Ithibault @Sympatico.CA").as_deref(),
            Some("Ithibault@sympatico.ca")
        );
        assert!(is_doubtful("Ithibault@sympatico.ca"));
        assert!(!is_doubtful("lthibault@sympatico.ca"));
    }

    #[test]
    fn a_doubtful_stroke_agrees_with_a_plain_l_or_i() {
        assert_eq!(
            normalise_keeping_doubts("|.nadeau @cabinet.ca").as_deref(),
            Some("I.nadeau@cabinet.ca")
        );
        assert_eq!(
            reconcile("l.nadeau@cabinet.ca", "I.nadeau@cabinet.ca").as_deref(),
            Some("l.nadeau@cabinet.ca")
        );
        assert_eq!(
            reconcile("I.roy@x.ca", "I.roy@x.ca").as_deref(),
            Some("I.roy@x.ca")
        );
        assert_eq!(reconcile("l.roy@x.ca", "i.roy@x.ca"), None);
        assert_eq!(reconcile("l.roy@x.ca", "l.roy@x.com"), None);
    }

    #[test]
    fn the_names_say_which_letter_the_stroke_is() {
        let luc = (Some("Luc"), Some("Thibault"));
        assert_eq!(
            settle("Ithibault@sympatico.ca", luc.0, luc.1).as_deref(),
            Some("lthibault@sympatico.ca")
        );
        assert_eq!(
            settle(
                "I.Iariviere@doptometrie.ca",
                Some("Louise"),
                Some("Larivière")
            )
            .as_deref(),
            Some("l.lariviere@doptometrie.ca")
        );
        assert_eq!(
            settle("Isabelle.roy@bell.net", Some("Isabelle"), Some("Roy")).as_deref(),
            Some("isabelle.roy@bell.net")
        );
        assert_eq!(
            settle(
                "I.nadeaupaquette@cabinet.qc.ca",
                Some("Lise"),
                Some("Nadeau-Paquette")
            )
            .as_deref(),
            Some("l.nadeaupaquette@cabinet.qc.ca")
        );
    }

    #[test]
    fn without_a_single_spelling_the_doubt_stays() {
        // Names unknown, or unrelated to the address.
        assert_eq!(settle("Ithibault@sympatico.ca", None, None), None);
        assert_eq!(
            settle("Ithibault@sympatico.ca", Some("Anne"), Some("Roy")),
            None
        );
        // Initials alone spell too much: `li` from Louise Irving.
        assert_eq!(settle("II@x.ca", Some("Louise"), Some("Irving")), None);
        // Both readings spelt by the names: still a doubt.
        assert_eq!(settle("Ii@x.ca", Some("Li"), Some("Ii")), None);
    }
}
