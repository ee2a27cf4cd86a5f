//! Accent and case folding shared by reply parsing (verbs are matched with
//! accents and case ignored) and credentials (usernames are plain ASCII).

use unicode_normalization::UnicodeNormalization;

/// Lower-cases `s` and removes diacritics: `Écrit` → `ecrit`. Letters that
/// decomposition cannot reach (`œ`, `æ`, `ß`, `ø`, `ł`…) are spelled out the
/// way a French or English speaker would type them. Other characters,
/// including non-Latin letters, are kept as they are.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd().flat_map(char::to_lowercase) {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            // Typographic apostrophes, so that "d’origine" matches "d'origine".
            '\u{2019}' | '\u{2018}' | '\u{02bc}' => out.push('\''),
            // No-break spaces, as French typography puts before `:`.
            '\u{a0}' | '\u{202f}' | '\u{2007}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_accents_case_and_ligatures() {
        let cases = [
            ("APPROUVER", "approuver"),
            ("Écrit", "ecrit"),
            ("Envoyé de mon iPhone", "envoye de mon iphone"),
            ("Œuvre Cœur", "oeuvre coeur"),
            ("Straße", "strasse"),
            ("Søren Łukasz", "soren lukasz"),
            ("d’origine", "d'origine"),
            ("a\u{202f}écrit\u{a0}:", "a ecrit :"),
            ("Ἀθῆναι", "αθηναι"),
        ];
        for (input, want) in cases {
            assert_eq!(fold(input), want, "fold({input:?})");
        }
    }
}
