//! The captcha id: a token that carries everything a server process needs
//! to redraw and check a captcha, authenticated with keys derived from the
//! data directory's key, so nothing is stored when one is issued.
//!
//! ```text
//! nonce (16) ‖ expires, ms since 1970, big-endian (8) ‖ bind (8) ‖ mac (16)
//! bind = HMAC(k_bind, nonce ‖ binding)[..8]
//! mac  = HMAC(k_mac, nonce ‖ expires ‖ bind)[..16]
//! digits = HMAC(k_digits, nonce) as a number, mod 10^6, six digits
//! ```
//!
//! As 96 lower-case hex digits (URL- and form-safe). The id says nothing of
//! the digits (they need `k_digits`) nor of the binding (a keyed hash with
//! the nonce in it, so two ids of one client are not even linkable); the
//! MAC covers the tag, so an id cannot be moved to another binding, and
//! the expiry, so it cannot be prolonged. Each key is derived for one
//! purpose: HMAC(master, "cpor captcha v1\0" ‖ label).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const NONCE: usize = 16;
const EXPIRES: usize = 8;
const BIND: usize = 8;
const MAC: usize = 16;
const LEN: usize = NONCE + EXPIRES + BIND + MAC;
/// Characters in an id.
#[cfg(test)]
const ID_LEN: usize = 2 * LEN;

/// The keys derived from the data directory's key, one per purpose.
pub struct Keys {
    mac: [u8; 32],
    bind: [u8; 32],
    digits: [u8; 32],
    render: [u8; 32],
}

/// A key for one purpose: HMAC(master, "cpor captcha v1\0" ‖ label), the
/// expand step of HKDF with a single block (the master key is already
/// uniformly random, so there is nothing to extract).
fn derive(master: &[u8], label: &str) -> [u8; 32] {
    hmac(master, &[b"cpor captcha v1\0", label.as_bytes()])
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// What an authentic, well-formed id says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub nonce: [u8; NONCE],
    /// Milliseconds since 1970 (wall clock: every process must agree).
    pub expires: u64,
    bind: [u8; BIND],
}

impl Keys {
    pub fn derive(master: &[u8]) -> Keys {
        Keys {
            mac: derive(master, "mac"),
            bind: derive(master, "bind"),
            digits: derive(master, "digits"),
            render: derive(master, "render"),
        }
    }

    fn bind_tag(&self, nonce: &[u8; NONCE], binding: &[u8]) -> [u8; BIND] {
        let full = hmac(&self.bind, &[nonce, binding]);
        full[..BIND].try_into().expect("8 bytes")
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC] {
        let full = hmac(&self.mac, &[body]);
        full[..MAC].try_into().expect("16 bytes")
    }

    /// A new id for `binding`, valid until `expires`.
    pub fn issue(&self, nonce: [u8; NONCE], expires: u64, binding: &[u8]) -> String {
        let mut raw = [0u8; LEN];
        raw[..NONCE].copy_from_slice(&nonce);
        raw[NONCE..NONCE + EXPIRES].copy_from_slice(&expires.to_be_bytes());
        raw[NONCE + EXPIRES..NONCE + EXPIRES + BIND]
            .copy_from_slice(&self.bind_tag(&nonce, binding));
        let mac = self.mac(&raw[..LEN - MAC]);
        raw[LEN - MAC..].copy_from_slice(&mac);
        schemas::hex(&raw)
    }

    /// The token an id carries, if this server's keys made it. Expiry and
    /// binding are the caller's to check.
    pub fn open(&self, id: &str) -> Option<Token> {
        let raw = from_hex::<LEN>(id)?;
        let (body, mac) = raw.split_at(LEN - MAC);
        if !bool::from(self.mac(body).ct_eq(mac)) {
            return None;
        }
        Some(Token {
            nonce: body[..NONCE].try_into().expect("16 bytes"),
            expires: u64::from_be_bytes(body[NONCE..NONCE + EXPIRES].try_into().expect("8")),
            bind: body[NONCE + EXPIRES..].try_into().expect("8 bytes"),
        })
    }

    /// Whether a token was issued for `binding` (constant time).
    pub fn bound_to(&self, t: &Token, binding: &[u8]) -> bool {
        self.bind_tag(&t.nonce, binding).ct_eq(&t.bind).into()
    }

    /// The six digits of a nonce: HMAC as a big-endian number mod 10^6 (the
    /// bias of a 64-bit number mod 10^6 is below 10^-13).
    pub fn digits(&self, nonce: &[u8; NONCE]) -> String {
        let h = hmac(&self.digits, &[nonce]);
        let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % 1_000_000;
        format!("{n:06}")
    }

    /// The seed of a captcha's drawing: the same id draws the same picture,
    /// so fetching it again and again gives nothing to average or vote over.
    pub fn render_seed(&self, nonce: &[u8; NONCE]) -> u64 {
        let h = hmac(&self.render, &[nonce]);
        u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
    }
}

fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let nib = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        out[i] = nib(pair[0])? << 4 | nib(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_opens_only_with_its_keys_and_unchanged() {
        let keys = Keys::derive(&[7u8; 32]);
        let id = keys.issue([1u8; 16], 1_000, b"page\0cookie");
        assert_eq!(id.len(), ID_LEN);
        let t = keys.open(&id).unwrap();
        assert_eq!((t.nonce, t.expires), ([1u8; 16], 1_000));
        assert!(keys.bound_to(&t, b"page\0cookie"));
        assert!(!keys.bound_to(&t, b"page\0other"));
        assert!(Keys::derive(&[8u8; 32]).open(&id).is_none());
        // Every single changed character breaks it (later expiry, another
        // binding tag, another nonce).
        for i in 0..id.len() {
            let mut b = id.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            assert!(keys.open(std::str::from_utf8(&b).unwrap()).is_none(), "{i}");
        }
        assert!(keys.open("").is_none());
        assert!(keys.open(&id.to_uppercase()).is_none());
        assert!(keys.open(&id[..ID_LEN - 2]).is_none());
    }

    #[test]
    fn digits_are_six_spread_and_not_in_the_id() {
        let keys = Keys::derive(&[7u8; 32]);
        let mut counts = [0u32; 10];
        for n in 0..2000u32 {
            let mut nonce = [0u8; 16];
            nonce[..4].copy_from_slice(&n.to_be_bytes());
            let d = keys.digits(&nonce);
            assert_eq!(d.len(), 6);
            for c in d.bytes() {
                counts[(c - b'0') as usize] += 1;
            }
            let id = keys.issue(nonce, 0, b"");
            assert!(!id.contains(&d), "{id} shows {d}");
        }
        // 12,000 digits: each about 1,200 (±5 sigma is about ±165).
        assert!(
            counts.iter().all(|&c| (1_000..1_400).contains(&c)),
            "{counts:?}"
        );
        // Other master key, other digits.
        assert_ne!(
            keys.digits(&[0u8; 16]),
            Keys::derive(&[8u8; 32]).digits(&[0u8; 16])
        );
    }
}
