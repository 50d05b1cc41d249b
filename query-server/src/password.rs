//! Passwords: the policy a new one must meet, and argon2id hashing.
//!
//! The policy follows NIST SP 800-63B: 12 to 128 characters (Unicode code
//! points, after NFKC normalisation, so the same password typed on another
//! keyboard or IME still matches), never truncated, not on the bundled list
//! of common passwords, not the account's own address, and no rules about
//! which kinds of characters to use.
//!
//! Hashes are argon2id PHC strings with m = 19 MiB, t = 2, p = 1 (OWASP's
//! baseline). Verification is the costly part of a login, so it runs on
//! the blocking pool; an unknown account is verified against a dummy hash,
//! so it costs the same time.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// argon2id memory cost in KiB (19 MiB) and passes.
pub const M_COST: u32 = 19 * 1024;
pub const T_COST: u32 = 2;

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_lowercase)
            .collect()
    })
}

/// How many passwords the bundled list holds.
pub fn common_count() -> usize {
    common().len()
}

/// Normalises a password as it is stored and checked: NFKC.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// Why a new password is refused, in the words the page shows.
pub fn check_new(password: &str, email: &str) -> Result<(), &'static str> {
    let p = normalise(password);
    let n = p.chars().count();
    if n < MIN_CHARS {
        return Err("密碼至少需要 12 個字元。");
    }
    if n > MAX_CHARS {
        return Err("密碼最多 128 個字元。");
    }
    let lower = p.to_lowercase();
    if common().contains(&lower) {
        return Err("這個密碼太常見，很容易被猜中，請換一個。");
    }
    if !email.is_empty() && lower == email.to_lowercase() {
        return Err("密碼不能與電子郵件信箱相同。");
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a (new) password.
pub fn hash(password: &str) -> String {
    let salt_bytes = store::secret::random_bytes::<16>().expect("randomness");
    let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt");
    argon2()
        .hash_password(normalise(password).as_bytes(), &salt)
        .expect("argon2 hashing")
        .to_string()
}

/// Checks a password against a stored hash (or, for an unknown account,
/// the dummy hash: same cost, always false).
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(h) => (h, true),
        None => (dummy(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = argon2()
        .verify_password(normalise(password).as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// A hash of a random password, made once per process.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash(&schemas::hex(
            &store::secret::random_bytes::<16>().expect("randomness"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_code_points_after_nfkc() {
        // 12 CJK characters: 36 bytes, 12 code points: long enough.
        assert!(check_new("臺灣高等法院臺中分院民事", "a@b.tw").is_ok());
        assert!(check_new("臺灣高等法院臺中分院民", "a@b.tw").is_err());
        // Full-width digits normalise to ASCII ones (NFKC): the same
        // password typed on a full-width keyboard.
        assert_eq!(normalise("ＡＢＣ１２３"), "ABC123");
        assert!(check_new(&"x".repeat(128), "a@b.tw").is_ok());
        assert!(check_new(&"x".repeat(129), "a@b.tw").is_err());
    }

    #[test]
    fn common_passwords_and_the_address_are_refused_without_composition_rules() {
        assert!(common_count() >= 10_000, "{}", common_count());
        assert!(check_new("1qaz2wsx3edc", "a@b.tw").is_err());
        assert!(check_new("Password1234", "a@b.tw").is_err());
        assert!(check_new("lawyer@firm.tw", "Lawyer@Firm.tw").is_err());
        // All lower-case letters, no digits or symbols: fine.
        assert!(check_new("correcthorsebatterystaple", "a@b.tw").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_with_the_required_cost_and_never_truncate() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", Some(&h)));
        assert!(!verify("correct horse battery stapl", Some(&h)));
        // A full-width variant is the same password (NFKC).
        assert!(verify("ｃｏｒｒｅｃｔ horse battery staple", Some(&h)));
        let long = "y".repeat(128);
        let h = hash(&long);
        assert!(!verify(&"y".repeat(127), Some(&h)));
        assert!(verify(&long, Some(&h)));
        assert!(!verify(&long, None));
    }
}
