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

#[cfg(test)]
mod tests {
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
