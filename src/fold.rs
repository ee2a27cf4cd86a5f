//! Text folding, the one place where accents, case, ligatures and
//! typographic variants are taken out before text is compared: staff reply
//! verbs and quote headers, names compared across requests, e-mail local
//! parts matched against names, and ASCII usernames all fold here, so that
//! "Hébert", "HEBERT" and "Hebert" are one spelling everywhere.

use unicode_normalization::UnicodeNormalization;

/// Lower-cases `s` and removes diacritics: `Écrit` → `ecrit`. Letters that
/// decomposition cannot reach (`œ`, `æ`, `ß`, `ø`, `ł`…) are spelled out the
/// way a French or English speaker would type them. Other characters,
/// including non-Latin letters, are kept as they are.
pub fn fold(s: &str) -> String {
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

/// [`fold`], then letters and digits only: the key two spellings of one
/// name share ("Marie-Ève" and "marie eve" give `marieeve`).
pub fn letters_and_digits(s: &str) -> String {
    keeping(s, |_| false)
}

/// [`fold`], then letters, digits and the characters `keep` accepts (the
/// `.`, `-`, `_` that separate the words of an e-mail local part).
pub fn keeping(s: &str, keep: impl Fn(char) -> bool) -> String {
    fold(s)
        .chars()
        .filter(|&c| c.is_alphanumeric() || keep(c))
        .collect()
}

/// [`fold`], then the ASCII letters only (`Éloïse Dubé` → `eloisedube`):
/// what a username or an address can spell of a name.
pub fn ascii_letters(s: &str) -> String {
    fold(s).chars().filter(char::is_ascii_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn narrower_folds_keep_less() {
        assert_eq!(
            letters_and_digits("Marie-Ève St-Pierre 2"),
            "marieevestpierre2"
        );
        assert_eq!(letters_and_digits("Cœur"), "coeur");
        assert_eq!(
            keeping("Marie-Ève.Roy_2", |c| "-._".contains(c)),
            "marie-eve.roy_2"
        );
        assert_eq!(ascii_letters("Éloïse Dubé-Lévesque"), "eloisedubelevesque");
        assert_eq!(ascii_letters("Ἀθῆναι 3"), "");
    }
}
