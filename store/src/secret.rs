//! Secrets: the data directory's key, unsubscribe tokens and signed
//! anti-forgery tokens derived from it, and random single-use tokens
//! (activation) stored only as hashes.
//!
//! `<data>/secret.key` is created on first use (32 random bytes, hex, mode
//! 0600). The website reads the same file to check unsubscribe links, so an
//! unsubscribe link needs no database row and works for as long as the key.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use schemas::hex;

const KEY_FILE: &str = "secret.key";

/// The data directory's key, created if missing.
pub fn load_or_create_key(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    load_or_create_key_at(&data_dir.join(KEY_FILE))
}

/// A key file (64 hex digits), created if missing: 32 random bytes, mode
/// 0600, written whole under a temporary name first; if another process
/// created it meanwhile, theirs stands.
pub fn load_or_create_key_at(path: &Path) -> std::io::Result<Vec<u8>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "key".into(), |n| n.to_string_lossy().into_owned());
    match fs::read_to_string(path) {
        Ok(text) => from_hex(text.trim())
            .filter(|k| k.len() >= 32)
            .ok_or_else(|| {
                std::io::Error::other(format!("{}: not a 64-digit hex key", path.display()))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<32>()?;
            let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp)?;
            writeln!(f, "{}", hex(&key))?;
            f.sync_all()?;
            // Another process may have created it meanwhile: theirs stands.
            if fs::hard_link(&tmp, path).is_err() {
                fs::remove_file(&tmp)?;
                return load_or_create_key_at(path);
            }
            fs::remove_file(&tmp)?;
            Ok(key.to_vec())
        }
        Err(e) => Err(e),
    }
}

pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// A new single-use token (256 random bits, URL-safe) and the hash stored
/// in its place.
pub fn new_token() -> std::io::Result<(String, Vec<u8>)> {
    let token = hex(&random_bytes::<32>()?);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// What is stored for a token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What an unsubscribe link stops: the digest of news, or hearing
/// reminders. Each has its own tokens, so one mail's link cannot stop the
/// other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mailing {
    Digests,
    Reminders,
}

impl Mailing {
    /// The HMAC's domain (the digests' is the one their links have always
    /// had, so links already mailed keep working).
    fn domain(self) -> &'static [u8] {
        match self {
            Mailing::Digests => b"cpor unsubscribe\0",
            Mailing::Reminders => b"cpor unsubscribe reminders\0",
        }
    }

    /// Its name in an unsubscribe link (`list=`); digests' links have none.
    pub fn as_str(self) -> &'static str {
        match self {
            Mailing::Digests => "digests",
            Mailing::Reminders => "reminders",
        }
    }

    pub fn parse(s: Option<&str>) -> Option<Mailing> {
        match s {
            None | Some("digests") => Some(Mailing::Digests),
            Some("reminders") => Some(Mailing::Reminders),
            Some(_) => None,
        }
    }
}

fn unsubscribe_mac(key: &[u8], mailing: Mailing, email: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(mailing.domain());
    mac.update(email.as_bytes());
    mac
}

/// The unsubscribe token of an address for a mailing: HMAC-SHA256 under
/// the key.
pub fn unsubscribe_token(key: &[u8], mailing: Mailing, email: &str) -> String {
    hex(&unsubscribe_mac(key, mailing, email).finalize().into_bytes())
}

/// Checks an unsubscribe token in constant time.
pub fn unsubscribe_token_ok(key: &[u8], mailing: Mailing, email: &str, token: &str) -> bool {
    let Some(tag) = from_hex(token) else {
        return false;
    };
    unsubscribe_mac(key, mailing, email)
        .verify_slice(&tag)
        .is_ok()
}

/// A token the server can recognise as its own without storing it: 16
/// random bytes and their HMAC-SHA256 (first 16 bytes) under the key for
/// `purpose`, in hex (64 digits). The website's pre-login anti-forgery
/// token: a value a client chose never passes.
pub fn signed_token(key: &[u8], purpose: &str) -> std::io::Result<String> {
    Ok(sealed(key, purpose, &random_bytes::<16>()?))
}

/// Checks a `signed_token` in constant time.
pub fn signed_token_ok(key: &[u8], purpose: &str, token: &str) -> bool {
    token.len() == 64 && opened(key, purpose, token).is_some()
}

/// `data` and its HMAC-SHA256 (first 16 bytes) under the key for
/// `purpose`, in hex: what the server said, readable by anyone, changed by
/// no one (the website's device cookies).
pub fn sealed(key: &[u8], purpose: &str, data: &[u8]) -> String {
    format!("{}{}", hex(data), hex(&signature(key, purpose, data)))
}

/// The data of a `sealed` token made under the key for `purpose`, checked
/// in constant time; `None` for anything else.
pub fn opened(key: &[u8], purpose: &str, token: &str) -> Option<Vec<u8>> {
    if token.len() < 32 || !token.is_ascii() {
        return None;
    }
    let (data, tag) = token.split_at(token.len() - 32);
    let (data, tag) = (from_hex(data)?, from_hex(tag)?);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(&data);
    mac.verify_truncated_left(&tag).is_ok().then_some(data)
}

/// HMAC-SHA256 of `data` (first 16 bytes) under the key for `purpose`:
/// the tag of a `sealed` token, and what the website's device cookies
/// bind a password hash with (nothing of it readable in the cookie).
pub fn signature(key: &[u8], purpose: &str, data: &[u8]) -> [u8; 16] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(data);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_key(dir.path()).unwrap();
        let b = load_or_create_key(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn unsubscribe_tokens_bind_the_address_and_the_key() {
        let key = [7u8; 32];
        let d = Mailing::Digests;
        let t = unsubscribe_token(&key, d, "a@example.com");
        assert!(unsubscribe_token_ok(&key, d, "a@example.com", &t));
        assert!(!unsubscribe_token_ok(&key, d, "b@example.com", &t));
        assert!(!unsubscribe_token_ok(&[8u8; 32], d, "a@example.com", &t));
        assert!(!unsubscribe_token_ok(&key, d, "a@example.com", "zz"));
        // A digest's link does not stop reminders, nor the other way round.
        let r = unsubscribe_token(&key, Mailing::Reminders, "a@example.com");
        assert_ne!(r, t);
        assert!(!unsubscribe_token_ok(
            &key,
            Mailing::Reminders,
            "a@example.com",
            &t
        ));
        assert!(unsubscribe_token_ok(
            &key,
            Mailing::Reminders,
            "a@example.com",
            &r
        ));
    }

    #[test]
    fn signed_tokens_pass_only_under_their_key_and_purpose() {
        let key = [7u8; 32];
        let t = signed_token(&key, "csrf").unwrap();
        assert_eq!(t.len(), 64);
        assert!(signed_token_ok(&key, "csrf", &t));
        assert!(!signed_token_ok(&key, "other", &t));
        assert!(!signed_token_ok(&[8u8; 32], "csrf", &t));
        let mut forged = t.clone();
        forged.replace_range(63.., if t.ends_with('0') { "1" } else { "0" });
        assert!(!signed_token_ok(&key, "csrf", &forged));
        assert!(!signed_token_ok(
            &key,
            "csrf",
            "0123456789abcdef0123456789abcdef"
        ));
        assert!(!signed_token_ok(&key, "csrf", &"é".repeat(32)));
        assert!(!signed_token_ok(
            &key,
            "csrf",
            &format!("a{}", "é".repeat(31) + "b")
        ));
        assert_ne!(t, signed_token(&key, "csrf").unwrap());
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (t1, h1) = new_token().unwrap();
        let (t2, _) = new_token().unwrap();
        assert_ne!(t1, t2);
        assert_eq!(t1.len(), 64, "256 bits");
        assert_eq!(h1, token_hash(&t1));
        assert!(!h1
            .windows(8)
            .any(|w| t1.as_bytes().windows(8).any(|x| x == w)));
    }
}
