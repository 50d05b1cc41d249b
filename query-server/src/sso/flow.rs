//! A sign-in in progress, bound to the browser that started it.
//!
//! Nothing of a pending flow is kept on the server: the browser holds it in
//! an HttpOnly cookie, sealed (HMAC-SHA256) with the data directory's key,
//! so any server process with that key can finish a flow another began. The
//! cookie carries a random 256-bit seed, the time it was made and the path
//! to return to; `state`, `nonce` and the PKCE verifier are derived from the
//! seed under the key (HMAC, one label each). The browser therefore never
//! sees the PKCE verifier, a forged cookie fails its MAC, and an old one
//! fails its age.
//!
//! What the server does keep is the set of seeds already finished
//! (`Consumed`), until they would have expired anyway: a flow is used once.
//! The server keeps that set in the accounts database (`Consumed::shared`),
//! so a flow finished on one process is refused by every other.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use store::secret::random_bytes;

/// How long a browser has from `begin` to the callback.
pub const FLOW_SECONDS: i64 = 10 * 60;

/// A flow sealed for a web sign-in, and a ticket for a native app's
/// exchange, are told apart by their MAC label: one never opens as the
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Web,
    Native,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Web => b"cpor sso flow v1\0",
            Purpose::Native => b"cpor sso native v1\0",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub seed: [u8; 32],
    /// Unix seconds.
    pub created: i64,
    /// A path on this site (see `safe_return_path`).
    pub return_to: String,
}

/// Why a sealed flow does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// Not in our format, or its MAC does not verify.
    Forged,
    /// Older than `FLOW_SECONDS` (or made in the future).
    Expired,
}

impl Flow {
    pub fn new(return_to: &str, now: i64) -> std::io::Result<Flow> {
        Ok(Flow {
            seed: random_bytes::<32>()?,
            created: now,
            return_to: safe_return_path(return_to),
        })
    }

    fn derive(&self, key: &[u8], label: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(label);
        mac.update(&self.seed);
        schemas::hex(&mac.finalize().into_bytes())
    }

    /// The `state` sent to the provider and expected back.
    pub fn state(&self, key: &[u8]) -> String {
        self.derive(key, b"cpor sso state\0")
    }

    /// The `nonce` sent to the provider and expected in the ID token.
    pub fn nonce(&self, key: &[u8]) -> String {
        self.derive(key, b"cpor sso nonce\0")
    }

    /// The PKCE code verifier (64 hex digits: within RFC 7636's 43–128
    /// unreserved characters).
    pub fn pkce_verifier(&self, key: &[u8]) -> String {
        self.derive(key, b"cpor sso pkce\0")
    }

    /// `1.<created>.<seed>.<return_to>.<mac>`, hex fields: a cookie value
    /// with nothing to quote.
    pub fn seal(&self, key: &[u8], purpose: Purpose) -> String {
        let body = format!(
            "1.{}.{}.{}",
            self.created,
            schemas::hex(&self.seed),
            schemas::hex(self.return_to.as_bytes())
        );
        let tag = mac(key, purpose, &body);
        format!("{body}.{}", schemas::hex(&tag))
    }

    pub fn open(key: &[u8], purpose: Purpose, sealed: &str, now: i64) -> Result<Flow, Unsealed> {
        let (body, tag) = sealed.rsplit_once('.').ok_or(Unsealed::Forged)?;
        let tag = from_hex(tag).ok_or(Unsealed::Forged)?;
        if !bool::from(mac(key, purpose, body).ct_eq(&tag[..])) {
            return Err(Unsealed::Forged);
        }
        let mut parts = body.split('.');
        let (Some("1"), Some(created), Some(seed), Some(ret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Unsealed::Forged);
        };
        let created: i64 = created.parse().map_err(|_| Unsealed::Forged)?;
        let seed: [u8; 32] = from_hex(seed)
            .and_then(|s| s.try_into().ok())
            .ok_or(Unsealed::Forged)?;
        let return_to = from_hex(ret)
            .and_then(|r| String::from_utf8(r).ok())
            .ok_or(Unsealed::Forged)?;
        // A minute of grace for clocks of several processes.
        if now - created > FLOW_SECONDS || created - now > 60 {
            return Err(Unsealed::Expired);
        }
        Ok(Flow {
            seed,
            created,
            return_to: safe_return_path(&return_to),
        })
    }
}

fn mac(key: &[u8], purpose: Purpose, body: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.label());
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().into()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Where to send the browser after signing in, as a Location header takes
/// it (non-ASCII percent-encoded): a page that needs a sign-in, by the
/// applicants' login's own rule (`routes::accounts::safe_next`: a case,
/// the list, the account page), else `/`. Never another origin (`//host`,
/// `/\host`, a scheme, a backslash, control characters or spaces), nor
/// another page of this site (an unsubscribe or activation form of
/// someone else's choosing, by path or by `%2e%2e`: the security review
/// of 2026-12-07).
pub fn safe_return_path(p: &str) -> String {
    let ok = !p.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| crate::routes::accounts::safe_next(&crate::http::ascii_path(p)))
        .flatten()
        .unwrap_or_else(|| "/".to_string())
}

/// The seeds of flows already finished, each until its flow would have
/// expired. Bounded: past `MAX_PENDING` live entries, new flows are refused
/// rather than memory grown (a flood of callbacks with valid state).
#[derive(Default)]
pub struct Consumed {
    seen: Mutex<HashMap<[u8; 32], i64>>,
    /// The accounts database (`sso_flows_used`), shared by every process;
    /// `None`: the map above, one process alone.
    db: Option<Mutex<rusqlite::Connection>>,
}

const MAX_CONSUMED: usize = 100_000;

impl Consumed {
    /// Marks `flow` used. `Ok(false)`: it was used before. `Err(())`: too
    /// many at once.
    #[allow(clippy::result_unit_err)]
    pub fn consume(&self, flow: &Flow, now: i64) -> Result<bool, ()> {
        if let Some(db) = &self.db {
            let expires = flow.created + FLOW_SECONDS + 60;
            return store::accounts::shared::spend_flow(
                &db.lock().expect("flows"),
                &flow.seed,
                expires,
            )
            .map_err(|e| tracing::error!("single sign-on flows: {e}"));
        }
        let mut seen = self.seen.lock().expect("consumed flows");
        if seen.len() >= MAX_CONSUMED / 2 {
            seen.retain(|_, expires| *expires >= now);
        }
        if seen.contains_key(&flow.seed) {
            return Ok(false);
        }
        if seen.len() >= MAX_CONSUMED {
            return Err(());
        }
        seen.insert(flow.seed, flow.created + FLOW_SECONDS + 60);
        Ok(true)
    }

    /// The set in the accounts database behind `conn`, shared by every
    /// process on the data directory.
    pub fn shared(conn: rusqlite::Connection) -> Consumed {
        Consumed {
            seen: Mutex::default(),
            db: Some(Mutex::new(conn)),
        }
    }

    /// Forgets the expired ones (the sweeper's job).
    pub fn sweep(&self, now: i64) {
        if let Some(db) = &self.db {
            if let Err(e) = store::accounts::shared::sweep_flows(&db.lock().expect("flows"), now) {
                tracing::error!("single sign-on flows: {e}");
            }
        }
        self.seen
            .lock()
            .expect("consumed flows")
            .retain(|_, expires| *expires >= now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_flow_opens_with_its_key_and_purpose_only() {
        let f = Flow::new("/cases?page=2", 1_000).unwrap();
        assert_eq!(f.return_to, "/cases?page=2");
        let sealed = f.seal(&KEY, Purpose::Web);
        assert_eq!(
            Flow::open(&KEY, Purpose::Web, &sealed, 1_100),
            Ok(f.clone())
        );
        assert_eq!(
            Flow::open(&[8; 32], Purpose::Web, &sealed, 1_100),
            Err(Unsealed::Forged)
        );
        assert_eq!(
            Flow::open(&KEY, Purpose::Native, &sealed, 1_100),
            Err(Unsealed::Forged)
        );
        // Any change to the body breaks the MAC: here, a later return path.
        let evil = sealed.replacen(
            &schemas::hex(b"/cases?page=2"),
            &schemas::hex(b"/cases?page=3"),
            1,
        );
        assert_ne!(evil, sealed);
        assert_eq!(
            Flow::open(&KEY, Purpose::Web, &evil, 1_100),
            Err(Unsealed::Forged)
        );
        assert_eq!(
            Flow::open(&KEY, Purpose::Web, "junk", 1_100),
            Err(Unsealed::Forged)
        );
    }

    #[test]
    fn a_flow_expires_after_ten_minutes() {
        let f = Flow::new("/", 1_000).unwrap();
        let sealed = f.seal(&KEY, Purpose::Web);
        assert!(Flow::open(&KEY, Purpose::Web, &sealed, 1_000 + FLOW_SECONDS).is_ok());
        assert_eq!(
            Flow::open(&KEY, Purpose::Web, &sealed, 1_001 + FLOW_SECONDS),
            Err(Unsealed::Expired)
        );
        assert_eq!(
            Flow::open(&KEY, Purpose::Web, &sealed, 1_000 - 61),
            Err(Unsealed::Expired)
        );
    }

    #[test]
    fn state_nonce_and_verifier_are_distinct_and_keyed() {
        let f = Flow::new("/", 0).unwrap();
        let (s, n, v) = (f.state(&KEY), f.nonce(&KEY), f.pkce_verifier(&KEY));
        assert!(s != n && n != v && s != v);
        assert_ne!(s, f.state(&[8; 32]));
        assert_eq!(v.len(), 64);
        let sealed = f.seal(&KEY, Purpose::Web);
        for secret in [&s, &n, &v] {
            assert!(!sealed.contains(secret.as_str()));
        }
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        for (ok, to) in [
            (
                "/cases/TPD/刑事/115/訴/100",
                "/cases/TPD/%E5%88%91%E4%BA%8B/115/%E8%A8%B4/100",
            ),
            ("/cases?page=2", "/cases?page=2"),
            ("/cases", "/cases"),
            ("/account", "/account"),
        ] {
            assert_eq!(safe_return_path(ok), to);
        }
        for evil in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "\\\\evil.example",
            "/cases\\..\\",
            "javascript:alert(1)",
            "/\tevil",
            "/ evil",
            "",
            "cases",
            "/",
            "/cases?page=2#top",
            "/unsubscribe?email=x@example.com&list=digests&token=0",
            "/cases/%2e%2e/activate?token=0123",
            "/cases/..\u{ff0f}account",
        ] {
            assert_eq!(safe_return_path(evil), "/", "{evil:?}");
        }
    }

    #[test]
    fn a_flow_is_consumed_once() {
        let c = Consumed::default();
        let f = Flow::new("/", 100).unwrap();
        assert_eq!(c.consume(&f, 100), Ok(true));
        assert_eq!(c.consume(&f, 101), Ok(false));
        // Swept once it could not open any more: the memory is given back.
        c.sweep(100 + FLOW_SECONDS + 61);
        assert_eq!(c.seen.lock().unwrap().len(), 0);
    }

    /// Issue 15: a flow finished on one process is refused on another.
    #[test]
    fn a_flow_is_consumed_once_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Consumed::shared(store::accounts::open(dir.path()).unwrap());
        let (one, two) = (open(), open());
        let f = Flow::new("/", 100).unwrap();
        assert_eq!(one.consume(&f, 100), Ok(true));
        assert_eq!(two.consume(&f, 101), Ok(false));
        assert_eq!(one.consume(&f, 102), Ok(false));
        let g = Flow::new("/", 100).unwrap();
        assert_eq!(two.consume(&g, 102), Ok(true));
    }
}
