//! What a field's value can be. Values as the contract wants them:
//! trimmed, single spaces, NFC; e-mails lower-cased; dates `YYYY-MM-DD`;
//! the licence as 6 digits. A value that cannot take its kind's shape is
//! `None`; one read that its field cannot hold (a bar in a name, a phone
//! number starting with a box's border, a birth in 1335) is illegible,
//! never given as read.

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

use super::calibration::Calibration;
use crate::domain::FieldReading;
use crate::reader::layout::Kind;

/// The characters a field of this kind is written with, for OCR to keep
/// to (empty: any).
pub fn whitelist(kind: Kind) -> &'static str {
    match kind {
        Kind::Digits => "0123456789",
        Kind::Date => "0123456789-/.",
        Kind::Email => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-+'",
        _ => "",
    }
}

/// Whether a value read for field `id` can be what that field holds (see
/// [`fits_field`], [`plausible_date`], [`plain_address`]); `edition` is
/// the first day of the form's edition, before which it was not signed.
pub fn can_be(
    id: &str,
    kind: Kind,
    reading: &FieldReading,
    cal: &Calibration,
    today: NaiveDate,
    edition: NaiveDate,
) -> bool {
    let value = reading.value.as_str();
    fits_field(id, value)
        && match kind {
            Kind::Date => plausible_date(id, value, cal, today, edition),
            Kind::Email => {
                domain_has_dot(value) && (reading.confidence >= cal.sure || plain_address(value))
            }
            _ => true,
        }
}

/// A date a person can have written in that field: a birth within
/// `oldest_birth_years` before today, a signature between the form's
/// edition and today (give or take `signed_after_today_days`).
fn plausible_date(
    id: &str,
    value: &str,
    cal: &Calibration,
    today: NaiveDate,
    edition: NaiveDate,
) -> bool {
    let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
        return false;
    };
    if id.ends_with("birth_date") {
        let oldest = today.with_year(today.year() - cal.oldest_birth_years);
        return oldest.is_some_and(|oldest| date >= oldest) && date <= today;
    }
    date >= edition && date <= today + chrono::Days::new(cal.signed_after_today_days.max(0) as u64)
}

/// An address unsure enough to be given as read only if no single
/// misread character explains what is wrong with it: an `@` taken for a
/// letter it looks like (`eheberteglobetrotter.net`), or a dot lost from
/// the domain (`gmailcom`). Anything else is the value as written, for
/// the rules to judge.
fn plain_address(value: &str) -> bool {
    match value.split_once('@') {
        Some((_, domain)) => domain.contains(['.', ',']),
        None => !value.char_indices().any(|(i, c)| {
            "eaocgq69".contains(c) && {
                let mut fixed = value.to_string();
                fixed.replace_range(i..i + c.len_utf8(), "@");
                crate::address::is_valid(&fixed)
            }
        }),
    }
}

/// Whether a value read is printed text of the form (folded `labels`),
/// not what a person wrote: a zone cut a row off takes the label above it
/// (`nction` of «Fonction», the whole address label read as an address).
/// The value lies within a label (five letters or more), or shares 16
/// letters in a row with one — more than a value and a label share by
/// chance («Clinique…» beside «Nom de la clinique…» shares 9).
pub fn is_label(value: &str, labels: &[String]) -> bool {
    let v: Vec<char> = crate::fold::letters_and_digits(value).chars().collect();
    labels.iter().any(|label| {
        let l: Vec<char> = label.chars().collect();
        let within = v.len() >= 5 && l.windows(v.len()).any(|w| w == v.as_slice());
        within
            || (v.len() >= LABEL_RUN
                && v.windows(LABEL_RUN)
                    .any(|piece| l.windows(LABEL_RUN).any(|w| w == piece)))
    })
}

/// Letters in a row a value shares with a label to be taken for it.
const LABEL_RUN: usize = 16;

/// A raw OCR value normalised to its kind; an address keeps its capital
/// I's, which may be a handwritten l or i, for `address` to settle.
pub fn normalise_read(kind: Kind, raw: &str) -> Option<String> {
    match kind {
        Kind::Email => super::address::normalise_keeping_doubts(raw),
        kind => normalise(kind, raw),
    }
}

/// No mail domain is one bare word: one read without any dot (or a comma
/// written for one) lost it, however sure the reading (`globetrotternet`,
/// read at 0.9 and more from a handwritten field). No domain at all
/// (`jean.roy@`) is what was written.
fn domain_has_dot(value: &str) -> bool {
    value
        .split_once('@')
        .is_none_or(|(_, domain)| domain.is_empty() || domain.contains(['.', ',']))
}

/// The first day of an edition named `YYYY-MM` (the layout's version).
pub fn edition_start(version: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{version}-01"), "%Y-%m-%d").ok()
}

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
        Some("phone") => phone_like(value),
        Some("organisation") => {
            value.chars().next().is_some_and(char::is_alphanumeric)
                && !value.contains(['|', '_', '{', '}', '[', ']', '<', '>', '\\', '~', '^', '`'])
        }
        _ => true,
    }
}

/// A telephone number as people write one: 10 or 11 digits (a country
/// code), grouped by spaces, hyphens, dots or parentheses, optionally an
/// extension (`poste 123`, `ext. 12`) after it.
fn phone_like(value: &str) -> bool {
    let lower = value.to_lowercase();
    let number = ["poste", "ext", "#"]
        .iter()
        .filter_map(|mark| lower.find(mark))
        .min()
        .map_or(lower.as_str(), |at| lower[..at].trim_end());
    let digits = number.chars().filter(char::is_ascii_digit).count();
    number.starts_with(|c: char| c.is_ascii_digit() || c == '(' || c == '+')
        && number.ends_with(|c: char| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+'))
        && (10..=11).contains(&digits)
}

#[cfg(test)]
mod tests {
    #[test]
    fn printed_labels_are_not_values() {
        let layout = crate::reader::layout::Layout::embedded().unwrap();
        let labels: Vec<String> = layout
            .fields
            .iter()
            .map(|z| crate::fold::letters_and_digits(&z.label))
            .collect();
        for label in [
            "nction",
            "edecourrielàlaquellevousseulavezaccès(différente",
            "Nom de famille",
        ] {
            assert!(is_label(label, &labels), "{label}");
        }
        for value in [
            "Agente de facturation",
            "Clinique de physiothérapie Saint-Laurent",
            "Nom",
            "Patricia",
            "marie.famille@bell.net",
        ] {
            assert!(!is_label(value, &labels), "{value}");
        }
    }

    #[test]
    fn phones_and_organisations_take_their_shape() {
        for good in [
            "418 555-5647",
            "(819) 555-4727",
            "+1 514 555 0101",
            "514.555.0101 poste 12",
        ] {
            assert!(fits_field("employer.phone", good), "{good}");
        }
        for bad in [
            "| 418 555-5647",
            "367-555-5602 |",
            "555-5647",
            "418 555-56471 2",
        ] {
            assert!(!fits_field("employer.phone", bad), "{bad}");
        }
        assert!(fits_field(
            "employer.organisation",
            "Clinique de physiothérapie Val-d'Or"
        ));
        assert!(fits_field("employer.organisation", "3 Soins & Cie, inc."));
        assert!(!fits_field(
            "employer.organisation",
            "| Clinique de physiothérapie"
        ));
    }

    #[test]
    fn dates_are_plausible_for_their_field() {
        let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (today, edition) = (day("2026-12-03"), day("2024-11-01"));
        let cal = crate::reader::interpret::CALIBRATION;
        let ok = |id, v| plausible_date(id, v, &cal, today, edition);
        assert!(ok("user.birth_date", "1995-07-03"));
        assert!(!ok("user.birth_date", "1335-07-03"));
        assert!(!ok("user.birth_date", "2030-01-01"));
        assert!(ok("user.date", "2024-11-20"));
        assert!(ok("user.date", "2026-12-04"));
        assert!(!ok("user.date", "2094-11-20"));
        assert!(!ok("employer.date", "2014-11-20"));
    }

    #[test]
    fn unsure_addresses_a_single_slip_explains_are_not_given() {
        assert!(plain_address("jean.roy@bell.net"));
        assert!(plain_address("andree.simard61@bell,net"));
        assert!(plain_address("marie.roy(at)globetrotter.net"));
        assert!(!plain_address("eheberteglobetrotter.net"));
        assert!(!plain_address("luc.seguin@gmailcom"));
        assert!(!domain_has_dot("gfortin@globetrotternet"));
        assert!(domain_has_dot("gfortin@globetrotter.net") && domain_has_dot("g@x,net"));
        assert!(domain_has_dot("jean.roy@"));
        assert_eq!(
            edition_start("2024-11"),
            Some(NaiveDate::from_ymd_opt(2024, 11, 1).unwrap())
        );
    }

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
