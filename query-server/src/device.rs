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

use crate::throttle::address;
use store::secret;

/// What the seal is made for.
const PURPOSE: &str = "cpor device";

/// The cookie's base name (`__Host-device` over HTTPS).
pub const COOKIE: &str = "device";

/// Bytes sealed: account (16), expiry (8, seconds since 1970), nonce (16).
const LEN: usize = 40;

/// A new device cookie's value for `email` (normalised), valid until
/// `expires` (seconds since 1970).
pub fn issue(key: &[u8], email: &str, expires: i64) -> std::io::Result<String> {
    let mut data = Vec::with_capacity(LEN);
    data.extend_from_slice(&address(email));
    data.extend_from_slice(&expires.to_be_bytes());
    data.extend_from_slice(&secret::random_bytes::<16>()?);
    Ok(secret::sealed(key, PURPOSE, &data))
}

/// The nonce of a device cookie the server sealed for `email`
/// (normalised), unexpired at `now` (seconds since 1970); `None` for any
/// other value.
pub fn open(key: &[u8], cookie: &str, email: &str, now: i64) -> Option<[u8; 16]> {
    let data = secret::opened(key, PURPOSE, cookie)?;
    if data.len() != LEN || data[..16] != address(email) {
        return None;
    }
    let expires = i64::from_be_bytes(data[16..24].try_into().ok()?);
    if now >= expires {
        return None;
    }
    data[24..].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_names_its_account_until_it_expires_and_cannot_be_changed() {
        let key = [7u8; 32];
        let c = issue(&key, "a@b.tw", 1_000).unwrap();
        let nonce = open(&key, &c, "a@b.tw", 999).expect("valid");
        assert_ne!(nonce, [0; 16]);
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
        assert_ne!(issue(&key, "a@b.tw", 1_000).unwrap(), c, "a new nonce");
    }
}
