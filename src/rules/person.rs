//! Who a person is, for the rules that compare people across requests
//! (`email_in_use`, `duplicate`).

use chrono::NaiveDate;
use unicode_normalization::char::is_combining_mark;

use crate::fold::{keeping, letters_and_digits};

/// What tells two people of the same name apart: the professional's licence
/// number, the staff member's birth date. The form asks for nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    Licence(String),
    BirthDate(NaiveDate),
}

/// A person as the store knows them: names as written and an identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Person {
    pub last_name: String,
    pub first_name: String,
    pub identity: Identity,
}

impl Person {
    /// Whether two records are the same human being.
    ///
    /// Names are compared folded ([`letters_and_digits`]): "Hébert" and "HEBERT", "Marie-Ève"
    /// and "Marie Eve" are the same name, because people and readers write
    /// accents, case and hyphens inconsistently. Identities must then agree.
    /// A professional and a staff member carry different kinds of identity,
    /// with nothing in common to compare; when one human appears once as each
    /// (a professional mandated by a colleague), the names alone decide, so
    /// that their own address is not called "in use by another person".
    pub fn is_same(&self, other: &Person) -> bool {
        if letters_and_digits(&self.last_name) != letters_and_digits(&other.last_name)
            || letters_and_digits(&self.first_name) != letters_and_digits(&other.first_name)
        {
            return false;
        }
        match (&self.identity, &other.identity) {
            (Identity::Licence(a), Identity::Licence(b)) => a == b,
            (Identity::BirthDate(a), Identity::BirthDate(b)) => a == b,
            _ => true,
        }
    }
}

/// Folded, keeping the `.`, `-` and `_` that separate the words of an
/// e-mail local part.
pub fn fold_keep_separators(s: &str) -> String {
    keeping(s, |c| matches!(c, '.' | '-' | '_'))
}

/// The words of a name, folded: "Marie-Ève St-Pierre" gives `marie`, `eve`,
/// `st`, `pierre`, and the whole `marieevestpierre`.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric() && !is_combining_mark(c))
        .map(letters_and_digits)
        .filter(|w| !w.is_empty())
        .collect();
    let whole = letters_and_digits(name);
    if !whole.is_empty() && !words.contains(&whole) {
        words.push(whole);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(last: &str, first: &str, born: &str) -> Person {
        Person {
            last_name: last.into(),
            first_name: first.into(),
            identity: Identity::BirthDate(born.parse().unwrap()),
        }
    }

    #[test]
    fn names_compare_without_accents_case_or_hyphens() {
        let a = user("Hébert", "Marie-Ève", "1980-01-02");
        assert!(a.is_same(&user("HEBERT", "marie eve", "1980-01-02")));
        assert!(!a.is_same(&user("Hébert", "Marie-Ève", "1980-01-03")));
        assert!(!a.is_same(&user("Hébert", "Marie", "1980-01-02")));
    }

    #[test]
    fn a_professional_and_a_user_of_one_name_are_one_person() {
        let pro = Person {
            last_name: "Roy".into(),
            first_name: "Julie".into(),
            identity: Identity::Licence("123456".into()),
        };
        assert!(pro.is_same(&user("Roy", "Julie", "1970-05-05")));
        assert!(!pro.is_same(&user("Roy", "Julien", "1970-05-05")));
        let other_pro = Person {
            identity: Identity::Licence("654321".into()),
            ..pro.clone()
        };
        assert!(!pro.is_same(&other_pro));
    }

    #[test]
    fn name_words_split_compound_names() {
        assert_eq!(
            name_words("Marie-Ève St-Pierre"),
            ["marie", "eve", "st", "pierre", "marieevestpierre"]
        );
        assert_eq!(name_words("O'Brien"), ["o", "brien", "obrien"]);
    }
}
