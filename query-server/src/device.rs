//! Device cookies (OWASP's "device cookies" against credential stuffing
//! and lockouts): after a successful login the browser gets a cookie,
//! sealed with the data directory's key, that names the account (16 bytes
//! of the SHA-256 of its address, as the throttle keeps it), a random
//! nonce and an expiry. A login that presents a valid one for the address
//! typed comes from a browser that signed in to that account before: it
//! skips strangers' limits (per client address and per account) and their
//! hashing lane (`password::Lane::Known`), so a flood of strangers, or a
//! lockout they caused, does not keep the owner out.
//!
//! What a cookie gives is bounded: its own failures are counted (throttle
//! scope `device`, keyed by the nonce) and after
//! `server.device_failures_per_hour` its logins are strangers' again; a
//! stolen cookie gives that many guesses an hour, for one account, no
//! more. Each successful login replaces the cookie (a new nonce). Nothing
//! is stored for a cookie that has not failed.
//!
//! A cookie stands for a browser that signed in with the password the
//! account has now: it carries 8 bytes of an HMAC of the stored password
//! hash, and once the password is reset or changed (or its hash
//! replaced) it is a stranger's. A cookie kept by whoever knew the old
//! password, or taken from a shared computer, passes no lockout after a
//! reset.

use subtle::ConstantTimeEq;

use crate::throttle::address;
use store::secret;

/// What the seal is made for.
const PURPOSE: &str = "cpor device";

/// The cookie's base name (`__Host-device` over HTTPS).
pub const COOKIE: &str = "device";

/// Bytes sealed: account (16), expiry (8, seconds since 1970), nonce (16),
/// password (8).
const LEN: usize = 48;

/// What binds a cookie to a password hash.
const PASSWORD: &str = "cpor device password";

/// A device cookie the server sealed, opened.
#[derive(Clone, Copy)]
pub struct Device {
    /// What its failures are counted under.
    pub nonce: [u8; 16],
    password: [u8; 8],
}

impl Device {
    /// Whether the browser signed in with the password whose hash the
    /// account stores now (`None`: no password, no browser).
    pub fn signed_in_with(&self, key: &[u8], hash: Option<&str>) -> bool {
        hash.is_some_and(|h| password_tag(key, h).ct_eq(&self.password).into())
    }
}

fn password_tag(key: &[u8], hash: &str) -> [u8; 8] {
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&secret::signature(key, PASSWORD, hash.as_bytes())[..8]);
    tag
}

/// A new device cookie's value for `email` (normalised) that signed in
/// with the password `hash` stores, valid until `expires` (seconds since
/// 1970).
pub fn issue(key: &[u8], email: &str, hash: &str, expires: i64) -> std::io::Result<String> {
    let mut data = Vec::with_capacity(LEN);
    data.extend_from_slice(&address(email));
    data.extend_from_slice(&expires.to_be_bytes());
    data.extend_from_slice(&secret::random_bytes::<16>()?);
    data.extend_from_slice(&password_tag(key, hash));
    Ok(secret::sealed(key, PURPOSE, &data))
}

/// A device cookie the server sealed for `email` (normalised), unexpired
/// at `now` (seconds since 1970); `None` for any other value, a cookie of
/// before its password binding among them.
pub fn open(key: &[u8], cookie: &str, email: &str, now: i64) -> Option<Device> {
    let data = secret::opened(key, PURPOSE, cookie)?;
    if data.len() != LEN || data[..16] != address(email) {
        return None;
    }
    let expires = i64::from_be_bytes(data[16..24].try_into().ok()?);
    if now >= expires {
        return None;
    }
    Some(Device {
        nonce: data[24..40].try_into().ok()?,
        password: data[40..].try_into().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_names_its_account_until_it_expires_and_cannot_be_changed() {
        let key = [7u8; 32];
        let c = issue(&key, "a@b.tw", "$argon2id$one", 1_000).unwrap();
        let d = open(&key, &c, "a@b.tw", 999).expect("valid");
        assert_ne!(d.nonce, [0; 16]);
        assert!(open(&key, &c, "a@b.tw", 1_000).is_none(), "expired");
        assert!(open(&key, &c, "x@b.tw", 999).is_none(), "another account");
        assert!(open(&[8u8; 32], &c, "a@b.tw", 999).is_none(), "another key");
        // A later expiry written in: the seal no longer matches.
        let mut forged = c.clone();
        forged.replace_range(32..48, &format!("{:016x}", i64::MAX));
        assert!(open(&key, &forged, "a@b.tw", 999).is_none());
        // The pre-login token under the same key is no device cookie.
        let csrf = secret::signed_token(&key, "cpor csrf").unwrap();
        assert!(open(&key, &csrf, "a@b.tw", 999).is_none());
        assert_ne!(
            issue(&key, "a@b.tw", "$argon2id$one", 1_000).unwrap(),
            c,
            "a new nonce"
        );
    }

    #[test]
    fn a_cookie_holds_for_the_password_it_signed_in_with_only() {
        let key = [7u8; 32];
        let c = issue(&key, "a@b.tw", "$argon2id$one", 1_000).unwrap();
        let d = open(&key, &c, "a@b.tw", 999).unwrap();
        assert!(d.signed_in_with(&key, Some("$argon2id$one")));
        assert!(!d.signed_in_with(&key, Some("$argon2id$two")), "reset");
        assert!(!d.signed_in_with(&key, None), "no password");
        assert!(!d.signed_in_with(&[8u8; 32], Some("$argon2id$one")));
        // The hash is not in the cookie, nor its plain digest.
        let hex: String = "$argon2id$one"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!c.contains(&hex));
        // A cookie of before the binding (40 bytes) is no cookie.
        let mut data = address("a@b.tw").to_vec();
        data.extend_from_slice(&1_000i64.to_be_bytes());
        data.extend_from_slice(&[1u8; 16]);
        let older = secret::sealed(&key, PURPOSE, &data);
        assert!(open(&key, &older, "a@b.tw", 999).is_none());
    }
}
