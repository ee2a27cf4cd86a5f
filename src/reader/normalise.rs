//! Field values as the contract wants them: trimmed, single spaces, NFC;
//! e-mails lower-cased; dates `YYYY-MM-DD`; the licence as 6 digits.
//! A value that cannot take its kind's shape is `None`: the field is then
//! illegible, never guessed.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use super::layout::Kind;

/// Digits in a professional licence number.
pub const LICENCE_DIGITS: usize = 6;

/// Normalises a raw value of a field of this kind.
pub fn normalise(kind: Kind, raw: &str) -> Option<String> {
    let text: String = raw.nfc().collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    match kind {
        Kind::Text => Some(text),
        Kind::Digits => {
            let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            (digits.len() == LICENCE_DIGITS && digits.chars().all(|c| c.is_ascii_digit()))
                .then_some(digits)
        }
        Kind::Date => date(&text),
        Kind::Email => Some(text.replace(' ', "").to_lowercase()),
        Kind::Checkbox | Kind::Signature => None,
    }
}

/// `YYYY-MM-DD`, also from `YYYY/MM/DD`, `YYYY.MM.DD` or `DD-MM-YYYY`,
/// only if it names a real day.
fn date(text: &str) -> Option<String> {
    let parts: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    let (y, m, d) = match parts.as_slice() {
        [y, m, d] if y.len() == 4 => (y, m, d),
        [d, m, y] if y.len() == 4 => (y, m, d),
        [all] if all.len() == 8 => (&&all[0..4], &&all[4..6], &&all[6..8]),
        _ => return None,
    };
    let day = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    Some(day.format("%Y-%m-%d").to_string())
}

/// Whether an OCR value read for field `id` can be what that field holds,
/// judged without a dictionary: names are letters (accents included) in
/// words joined by spaces, hyphens or apostrophes; a job title is words of
/// letters with those and `.`, `/`, `(`, `)`. A value outside its kind
/// (`Gabriel |`, a digit in a name) is illegible, never given as read.
/// Other fields are checked by their kind's normal form already.
pub fn fits_field(id: &str, value: &str) -> bool {
    let joiner = |c: char| matches!(c, ' ' | '-' | '\'' | '’');
    let name_like = |extra: &dyn Fn(char) -> bool| {
        value.chars().next().is_some_and(char::is_alphabetic)
            && value
                .chars()
                .all(|c| c.is_alphabetic() || joiner(c) || extra(c))
            && !value
                .chars()
                .zip(value.chars().skip(1))
                .any(|(a, b)| joiner(a) && joiner(b) && !(a == ' ' || b == ' '))
            && value.chars().last().is_some_and(|c| !joiner(c))
    };
    match id.rsplit_once('.').map(|(_, field)| field) {
        Some("last_name" | "first_name") => name_like(&|_| false),
        Some("job_title") => name_like(&|c| matches!(c, '.' | '/' | '(' | ')')),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_outside_their_field_kind_are_refused() {
        use super::fits_field;
        for (id, value) in [
            ("user.first_name", "Marie-Ève"),
            ("user.last_name", "D'Amours"),
            ("employer.last_name", "Saint Pierre"),
            ("user.job_title", "Secrétaire médicale"),
            ("user.job_title", "Adjointe adm. (facturation)"),
            ("employer.phone", "819 555-4727"),
        ] {
            assert!(fits_field(id, value), "{id}: {value}");
        }
        for (id, value) in [
            ("user.first_name", "Gabriel |"),
            ("user.first_name", "Gabriel-"),
            ("user.last_name", "B3noit"),
            ("user.last_name", "--Roy"),
            ("user.job_title", "Secrétaire | médicale"),
            ("employer.first_name", ""),
        ] {
            assert!(!fits_field(id, value), "{id}: {value}");
        }
    }

    use super::*;

    #[test]
    fn values_take_their_kind_shape() {
        assert_eq!(
            normalise(Kind::Text, "  Anne-Marie \t Hébert ").as_deref(),
            Some("Anne-Marie Hébert")
        );
        // NFD "é" becomes NFC.
        assert_eq!(
            normalise(Kind::Text, "He\u{301}bert").as_deref(),
            Some("Hébert")
        );
        assert_eq!(
            normalise(Kind::Digits, "462 329").as_deref(),
            Some("462329")
        );
        assert_eq!(normalise(Kind::Digits, "46232"), None);
        assert_eq!(
            normalise(Kind::Date, "2024-11-07").as_deref(),
            Some("2024-11-07")
        );
        assert_eq!(
            normalise(Kind::Date, "07/11/2024").as_deref(),
            Some("2024-11-07")
        );
        assert_eq!(normalise(Kind::Date, "2024-02-30"), None);
        assert_eq!(
            normalise(Kind::Email, "Benoit.OBrien7@Videotron.ca").as_deref(),
            Some("benoit.obrien7@videotron.ca")
        );
        assert_eq!(normalise(Kind::Text, "   "), None);
    }
}
