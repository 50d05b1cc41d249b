//! How an answer's body travels: gzip-compressed to a client that asks
//! (`Accept-Encoding`), and, for what an app or a calendar fetches again
//! and again, named by an ETag, so that a client that has it is told
//! `304 Not Modified` without it.
//!
//! Compressed (`compressible`): the API's answers, the private calendar
//! feed, and the site's stylesheet and scripts; never a page. A page holds
//! its session's anti-forgery token beside what the request put in it (a
//! search), and a page on another site can make a signed-in browser ask
//! for it again and again: compressed, its size would give the token away
//! a character at a time (BREACH). The API takes bearer tokens only, which
//! no other site's page can make a browser send (a session cookie is 401
//! there); the feed's only credential is its URL and it holds nothing a
//! request chose; the stylesheet and scripts hold nothing secret. So the
//! server compresses them itself, and the shipped nginx compresses
//! nothing (one place decides what is compressed).
//!
//! The ETag is a hash of the body as it is before compression (the same
//! JSON for everyone who may read it, whatever made it), weak (`W/`: the
//! compressed and the plain bodies are the same answer), and checked by
//! weak comparison as RFC 9110 §13.1.2 asks of `If-None-Match`.

use std::io::Write;

use warp::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, SET_COOKIE, VARY};
use warp::http::{HeaderValue, StatusCode};

use crate::http::{Req, Resp};

/// Smaller bodies go as they are (a case, a party's list of a few cases,
/// an error). They arrive in the first round trip either way (TCP's first
/// window is ten segments, about 14 KB, with the headers), and compressing
/// one costs a fixed 10–25 µs whatever its size (the compressor's tables,
/// about 256 KB, made and cleared): for a case's 2 KB, half again what the
/// whole request costs (docs/BENCHMARKS.md, Website, 2026-12-07).
pub const MIN_COMPRESSED: usize = 8 * 1024;

/// `Cache-Control` of the API's lists and a case: an app's own cache may
/// keep them, and must ask every time (its token checked, a 304 if they
/// are unchanged); no shared cache may (docs/SECURITY.md says why).
pub const REVALIDATE: &str = "private, no-cache";

/// Whether an answer may go compressed: the API's, the feed's, the
/// stylesheet's and the scripts' (by their route names), unless it is a
/// page (an HTML error page of those routes) or sets a cookie.
pub fn compressible(r: &Resp) -> bool {
    let route = r.route;
    (route.starts_with("/api/") || route == "/calendar" || route == "/static")
        && !r
            .headers
            .get(CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/html"))
        && !r.headers.contains_key(SET_COOKIE)
}

/// Compresses `r`'s body with gzip when it may be (`compressible`), the
/// client takes gzip and the body is `MIN_COMPRESSED` or more. Every
/// answer that may be says `Vary: Accept-Encoding`, so that a cache keeps
/// the two apart.
pub fn compress(req: &Req, r: &mut Resp) {
    if !compressible(r) {
        return;
    }
    // (names and values of their own kind, not parsed at each answer)
    r.headers
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    if r.body.len() < MIN_COMPRESSED
        || r.headers.contains_key(CONTENT_ENCODING)
        || !accepts_gzip(req.header("accept-encoding"))
    {
        return;
    }
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(r.body.len() / 4),
        flate2::Compression::default(),
    );
    // (writing to a Vec cannot fail)
    let packed = gz.write_all(&r.body).and_then(|()| gz.finish());
    if let Ok(packed) = packed {
        r.body = packed;
        r.headers
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
}

/// Whether an `Accept-Encoding` header takes gzip: `gzip` (or `x-gzip`, or
/// `*`) with a weight that is not 0 (RFC 9110 §12.5.3).
pub fn accepts_gzip(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        h.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next_back()
                .unwrap_or(1.0);
            ["gzip", "x-gzip", "*"]
                .iter()
                .any(|c| coding.eq_ignore_ascii_case(c))
                && weight > 0.0
        })
    })
}

/// The ETag of a body: weak, 128 bits of XXH3 (a validator, not a
/// secret: it tells an app whether what it has is still what the server
/// would send, and is sent only to who may read the body).
pub fn etag(body: &[u8]) -> String {
    // (by hand: `format!("{:032x}")` of a u128 cost 1.8 k instructions)
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut tag = String::with_capacity(36);
    tag.push_str("W/\"");
    for b in xxhash_rust::xxh3::xxh3_128(body).to_be_bytes() {
        tag.push(char::from(DIGITS[usize::from(b >> 4)]));
        tag.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    tag.push('"');
    tag
}

/// Whether an `If-None-Match` header names `etag`: a list of entity tags,
/// compared weakly (`W/` aside), or `*`.
pub fn names_etag(header: Option<&str>, etag: &str) -> bool {
    let opaque = |t: &str| {
        let t = t.trim();
        t.strip_prefix("W/").unwrap_or(t).to_string()
    };
    let etag = opaque(etag);
    header.is_some_and(|h| h.split(',').any(|t| t.trim() == "*" || opaque(t) == etag))
}

/// A 200 answer with its ETag and `cache_control`; `304 Not Modified`,
/// without the body, to a request that names the ETag.
pub fn revalidated(req: &Req, mut r: Resp, cache_control: &'static str) -> Resp {
    let etag = etag(&r.body);
    if names_etag(req.header("if-none-match"), &etag) {
        let route = r.route;
        r = Resp::no_content();
        r.status = StatusCode::NOT_MODIFIED;
        r.route = route;
    }
    if let Ok(v) = HeaderValue::try_from(etag) {
        r.headers.insert(ETAG, v);
    }
    r.headers
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_its_weight_is_zero() {
        for yes in [
            "gzip",
            "GZIP",
            "deflate, gzip;q=0.5",
            "br, gzip, deflate",
            "x-gzip",
            "*",
            "identity;q=1, *;q=0.1",
        ] {
            assert!(accepts_gzip(Some(yes)), "{yes}");
        }
        for no in ["", "identity", "br", "gzip;q=0", "gzip; q=0.0", "gzipx"] {
            assert!(!accepts_gzip(Some(no)), "{no}");
        }
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn an_etag_is_named_weakly_in_a_list_or_by_a_star() {
        let e = etag(b"{}");
        assert!(e.starts_with("W/\"") && e.ends_with('"'), "{e}");
        assert_ne!(etag(b"{}"), etag(b"{ }"));
        let strong = e.trim_start_matches("W/");
        for named in [
            e.clone(),
            strong.to_string(),
            format!("\"x\", {e}"),
            "*".into(),
        ] {
            assert!(names_etag(Some(&named), &e), "{named}");
        }
        for other in ["\"x\"", "W/\"x\"", ""] {
            assert!(!names_etag(Some(other), &e), "{other}");
        }
        assert!(!names_etag(None, &e));
    }
}
