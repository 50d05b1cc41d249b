//! Secrets: the data directory's key, unsubscribe tokens derived from it,
//! and random single-use tokens (activation) stored only as hashes.
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
    let path = data_dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => from_hex(text.trim())
            .filter(|k| k.len() >= 32)
            .ok_or_else(|| {
                std::io::Error::other(format!("{}: not a 64-digit hex key", path.display()))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<32>()?;
            let tmp = data_dir.join(format!(".{KEY_FILE}.tmp-{}", std::process::id()));
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp)?;
            writeln!(f, "{}", hex(&key))?;
            f.sync_all()?;
            // Another process may have created it meanwhile: theirs stands.
            if fs::hard_link(&tmp, &path).is_err() {
                fs::remove_file(&tmp)?;
                return load_or_create_key(data_dir);
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

/// The unsubscribe token of an address: HMAC-SHA256 under the key.
pub fn unsubscribe_token(key: &[u8], email: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"cpor unsubscribe\0");
    mac.update(email.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Checks an unsubscribe token in constant time.
pub fn unsubscribe_token_ok(key: &[u8], email: &str, token: &str) -> bool {
    let Some(tag) = from_hex(token) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"cpor unsubscribe\0");
    mac.update(email.as_bytes());
    mac.verify_slice(&tag).is_ok()
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
        let t = unsubscribe_token(&key, "a@example.com");
        assert!(unsubscribe_token_ok(&key, "a@example.com", &t));
        assert!(!unsubscribe_token_ok(&key, "b@example.com", &t));
        assert!(!unsubscribe_token_ok(&[8u8; 32], "a@example.com", &t));
        assert!(!unsubscribe_token_ok(&key, "a@example.com", "zz"));
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
