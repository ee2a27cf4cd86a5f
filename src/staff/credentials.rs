//! The credentials an approval issues: a username derived from the user's
//! name and a random temporary password, of which only an argon2 hash is
//! kept. The password must reach the user's mailbox and nowhere else, so
//! its type cannot be printed by accident.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::RngCore;

use crate::fold::ascii_letters;

/// Longest username issued, in characters, suffix included.
pub const MAX_USERNAME_LEN: usize = 20;

/// Suffixes tried (`2`, `3`, …) before giving up on a base name.
const MAX_SUFFIX: u32 = 9999;

/// Used when a name has no letter that folds to ASCII.
const FALLBACK_BASE: &str = "utilisateur";

/// A username could not be found: every candidate is taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no free username for base `{0}`")]
pub struct NoFreeUsername(pub String);

/// A username for the user: the first initial and the last name, ASCII
/// lower-case letters only (`Éloïse Dubé-Lévesque` → `edubelevesque`),
/// at most [`MAX_USERNAME_LEN`] characters, with `2`, `3`… appended while
/// `taken` says the name is already in use.
pub fn username(
    first_name: &str,
    last_name: &str,
    taken: &dyn Fn(&str) -> bool,
) -> Result<String, NoFreeUsername> {
    let (first, last) = (ascii_letters(first_name), ascii_letters(last_name));
    let base = match (first.chars().next(), last.is_empty()) {
        (Some(initial), false) => format!("{initial}{last}"),
        (None, false) => last,
        (_, true) if !first.is_empty() => first,
        _ => FALLBACK_BASE.to_string(),
    };
    let candidate = |suffix: &str| -> String {
        let room = MAX_USERNAME_LEN - suffix.len();
        base.chars().take(room).chain(suffix.chars()).collect()
    };
    std::iter::once(String::new())
        .chain((2..=MAX_SUFFIX).map(|n| n.to_string()))
        .map(|suffix| candidate(&suffix))
        .find(|name| !taken(name))
        .ok_or(NoFreeUsername(base))
}

/// Characters of a temporary password, by class. Look-alikes are left
/// out: `0 O o Q D`, `1 l I i j |`, `2 Z z`, `5 S s`, `8 B`, `6 G b`,
/// `9 g q`, `u v`, `m rn`, and quotes and separators that mail clients
/// and keyboards mangle.
const UPPER: &[u8] = b"ACEFHJKLMNPRTUWXY";
const LOWER: &[u8] = b"acdefhknprtwxy";
const DIGITS: &[u8] = b"3479";
const SYMBOLS: &[u8] = b"!*%?=+#";
const CLASSES: [&[u8]; 4] = [UPPER, LOWER, DIGITS, SYMBOLS];

/// Length of a temporary password.
pub const PASSWORD_LEN: usize = 16;

/// A temporary password. It has no `Display`, and its `Debug` prints
/// `<redacted>`: the only way to the characters is [`expose`], to be
/// called where the message to the user is written.
///
/// [`expose`]: TemporaryPassword::expose
pub struct TemporaryPassword(String);

impl TemporaryPassword {
    /// [`PASSWORD_LEN`] characters from `rand`'s OS-seeded generator, at
    /// least one from each class (upper, lower, digit, symbol).
    pub fn generate() -> TemporaryPassword {
        let mut rng = rand::rng();
        let all: Vec<u8> = CLASSES.concat();
        let mut chars: Vec<u8> = CLASSES
            .iter()
            .filter_map(|class| class.choose(&mut rng).copied())
            .collect();
        while chars.len() < PASSWORD_LEN {
            chars.extend(all.choose(&mut rng));
        }
        chars.shuffle(&mut rng);
        TemporaryPassword(chars.into_iter().map(char::from).collect())
    }

    /// The password itself, for the message to the user only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryPassword(<redacted>)")
    }
}

/// Hashing failed (argon2 refused its input; not expected with defaults).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Argon2id with the crate's default parameters and a random 128-bit salt,
/// as a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub fn hash_password(password: &TemporaryPassword) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `candidate` is the password hashed in `phc`. A malformed hash
/// verifies nothing.
pub fn verify(candidate: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(candidate.as_bytes(), &hash)
            .is_ok()
    })
}
