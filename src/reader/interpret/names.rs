//! Accents on a capital E in handwriting: Tesseract reads Marie-Ève as
//! Marie-Êve or Marie-Ëve, both readings alike, so agreement proves
//! nothing. A clerk knows that French given names begin with È only in
//! Ève, never with Ê or Ë: a name part that begins with an accented
//! capital E and is, but for that accent, exactly one known name is that
//! name. Anything else stays a question for staff.

/// Given-name parts that begin with an accented capital E.
const NAMES: &[&str] = &[
    "Ève",
    "Éveline",
    "Évelyne",
    "Évangéline",
    "Éric",
    "Érika",
    "Émile",
    "Émilie",
    "Émilien",
    "Émilienne",
    "Élie",
    "Éliane",
    "Élisa",
    "Élisabeth",
    "Élise",
    "Élodie",
    "Éloïse",
    "Éléonore",
    "Étienne",
    "Édith",
    "Édouard",
    "Édmond",
    "Ézéchiel",
];

/// The capital E's a known name may begin with.
const ACCENTED_E: [char; 4] = ['É', 'È', 'Ê', 'Ë'];

/// Capital accented E's that Tesseract mistakes for one another in
/// handwriting (Marie-Ève read Marie-Êve twice): agreement of readings on
/// them proves nothing.
pub const DOUBTFUL: [char; 3] = ['È', 'Ê', 'Ë'];

/// `value` with each name part that begins with a doubtful accented E
/// replaced by the one known name it can be (itself, if read right);
/// `None` when a part matches no known name or several, or when nothing
/// was in doubt.
pub fn settle_accents(value: &str) -> Option<String> {
    let mut settled = String::new();
    let mut changed = false;
    for part in value.split_inclusive(['-', ' ']) {
        let head = part.chars().next()?;
        if !DOUBTFUL.contains(&head) {
            settled.push_str(part);
            continue;
        }
        let (word, separator) = match part.strip_suffix(['-', ' ']) {
            Some(word) => (word, &part[word.len()..]),
            None => (part, ""),
        };
        let rest = &word[head.len_utf8()..];
        let mut known = NAMES
            .iter()
            .filter(|name| name.strip_prefix(ACCENTED_E) == Some(rest));
        let (Some(name), None) = (known.next(), known.next()) else {
            return None;
        };
        settled.push_str(name);
        settled.push_str(separator);
        changed = true;
    }
    changed.then_some(settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misread_accent_on_a_known_name_is_settled() {
        assert_eq!(settle_accents("Marie-Êve").as_deref(), Some("Marie-Ève"));
        assert_eq!(settle_accents("Marie-Ëve").as_deref(), Some("Marie-Ève"));
        assert_eq!(settle_accents("Èric").as_deref(), Some("Éric"));
        // A right reading is a known name too.
        assert_eq!(settle_accents("Marie-Ève").as_deref(), Some("Marie-Ève"));
        assert_eq!(settle_accents("Anne Ëlise").as_deref(), Some("Anne Élise"));
    }

    #[test]
    fn anything_else_is_left_to_staff() {
        // Nothing in doubt: nothing to settle.
        assert_eq!(settle_accents("Éric"), None);
        assert_eq!(settle_accents("Marie Roy"), None);
        // No known name behind the accent.
        assert_eq!(settle_accents("Êvariste"), None);
    }
}
