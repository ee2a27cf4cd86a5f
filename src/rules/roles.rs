//! The list of role words that mark a shared mailbox (`info@`, `accueil@`…).

use std::collections::BTreeSet;
use std::path::Path;

use super::person::fold_keep_separators;

/// The role list shipped with guichet (`config/roles.txt`).
const BUILTIN: &str = include_str!("../../config/roles.txt");

/// Characters people put between the words of a local part.
const SEPARATORS: [char; 3] = ['.', '-', '_'];

/// Role words. A local part is a shared mailbox when, lower-cased with
/// accents and `+tag` removed, it
/// 1. is a role word (`contact`, `secretariat`);
/// 2. or is one once `.`, `-`, `_` are removed from both (`front.desk`,
///    `service_client`) — only for words of 3 letters or more, since
///    two-letter words (`hr`, `it`, `md`) would otherwise catch people's
///    initials (`m.d@…`);
/// 3. or begins with a role word of 3 letters or more followed by a
///    separator or a digit (`accueil.rosemont`, `reception2`,
///    `info-clinique`). Only the first word counts: `marie.admin` may well
///    be Marie's own account.
///
/// A word that is one of the person's own names never counts: the list
/// holds names of places and people (`france`, `sydney`, `paris`), and
/// Ms Bureau's `bureau.marie@` is hers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleList {
    /// Words as listed, folded (separators kept).
    words: BTreeSet<String>,
    /// Words of 3 letters or more with their separators removed.
    squashed: BTreeSet<String>,
}

/// The shortest word that rules 2 and 3 apply to.
const MIN_LOOSE_LEN: usize = 3;

impl RoleList {
    /// Parses a list: one word a line, `#` starts a comment, blank lines skipped.
    pub fn parse(text: &str) -> RoleList {
        let mut list = RoleList::default();
        for line in text.lines() {
            let word = line.split('#').next().unwrap_or_default().trim();
            if !word.is_empty() {
                list.insert(word);
            }
        }
        list
    }

    /// The list shipped with guichet.
    pub fn builtin() -> RoleList {
        RoleList::parse(BUILTIN)
    }

    /// Reads an operator's list from a file (same format).
    pub fn load(path: &Path) -> std::io::Result<RoleList> {
        Ok(RoleList::parse(&std::fs::read_to_string(path)?))
    }

    /// Adds another list's words to this one (the builtin list plus an
    /// operator's additions).
    pub fn extend(&mut self, other: RoleList) {
        self.words.extend(other.words);
        self.squashed.extend(other.squashed);
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn insert(&mut self, word: &str) {
        let word = fold_keep_separators(word);
        if word.is_empty() {
            return;
        }
        let squashed = squash(&word);
        if squashed.chars().count() >= MIN_LOOSE_LEN {
            self.squashed.insert(squashed);
        }
        self.words.insert(word);
    }

    /// Whether `local` (a local part, `+tag` already removed) names a shared
    /// mailbox; `own_names` are the folded words of the person's own names.
    pub fn is_shared(&self, local: &str, own_names: &[String]) -> bool {
        let local = fold_keep_separators(local);
        let not_own = |word: &String| !own_names.contains(word);
        let squashed = squash(&local);
        if (self.words.contains(&local) && not_own(&local))
            || (self.squashed.contains(&squashed) && not_own(&squashed))
        {
            return true;
        }
        let first: String = local.chars().take_while(|c| c.is_alphabetic()).collect();
        let rest = &local[first.len()..];
        let delimited = rest
            .chars()
            .next()
            .is_some_and(|c| SEPARATORS.contains(&c) || c.is_ascii_digit());
        delimited
            && first.chars().count() >= MIN_LOOSE_LEN
            && self.words.contains(&first)
            && not_own(&first)
    }
}

fn squash(word: &str) -> String {
    word.chars().filter(|c| !SEPARATORS.contains(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_comments_and_blanks() {
        let list = RoleList::parse("# header\n\ninfo  # trailing\n  Accueil \n");
        assert_eq!(list.len(), 2);
        assert!(list.is_shared("accueil", &[]));
        assert!(RoleList::parse("# only comments\n").is_empty());
    }

    #[test]
    fn builtin_has_english_and_french_words() {
        let list = RoleList::builtin();
        assert!(list.len() > 1000, "{}", list.len());
        for word in [
            "info",
            "admin",
            "billing",
            "accueil",
            "secretariat",
            "reception",
            "facturation",
            "clinique",
            "bureau",
            "rendezvous",
            "administration",
            "comptabilite",
            "direction",
            "courrier",
            "contact",
            "cabinet",
        ] {
            assert!(list.is_shared(word, &[]), "{word}");
        }
    }

    #[test]
    fn shared_mailboxes() {
        let list = RoleList::builtin();
        let none: &[String] = &[];
        let cases: &[(&str, &[String], bool)] = &[
            ("secretariat", none, true),
            ("secrétariat", none, true),
            ("SECRETARIAT", none, true),
            ("secre.tariat", none, true),
            ("rendez-vous", none, true),
            ("service_client", none, true),
            ("front-desk", none, true),
            ("accueil.rosemont", none, true),
            ("reception2", none, true),
            ("info-clinique", none, true),
            ("admin", none, true),
            ("marie.roy", none, false),
            ("marie.admin", none, false),
            ("informatique.roy", none, true),
            ("infoclinique", none, false),
            ("md.tremblay", none, false),
            ("h.r", none, false),
            ("hr", none, true),
            ("labonte.j", none, false),
            ("bureau.marie", &["bureau".to_string()], false),
            ("bureau.marie", none, true),
            ("bureau", &["bureau".to_string()], false),
            ("sydney", none, true),
            ("sydney", &["sydney".to_string()], false),
            ("france.tremblay", &["france".to_string()], false),
        ];
        for (local, names, shared) in cases {
            assert_eq!(list.is_shared(local, names), *shared, "{local}");
        }
    }

    #[test]
    fn operators_extend_the_list() {
        let mut list = RoleList::builtin();
        assert!(!list.is_shared("guichetunique", &[]));
        list.extend(RoleList::parse("guichet-unique\n"));
        assert!(list.is_shared("guichetunique", &[]));
        assert!(list.is_shared("guichet-unique", &[]));
    }
}
