//! The request and response as the handlers see them: a plain struct built
//! from warp's extractors, and small helpers for forms, queries and cookies
//! (decoding is `form_urlencoded`'s and `percent-encoding`'s). Handlers
//! never touch warp's filters.

use std::collections::HashMap;
use std::net::IpAddr;

use warp::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

/// One request, read whole (bodies are small forms; see `MAX_BODY`).
#[derive(Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub ip: IpAddr,
    pub body: Vec<u8>,
}

/// Forms and JSON bodies larger than this are refused (413).
pub const MAX_BODY: usize = 16 * 1024;

/// A client as per-address limits count it: an IPv4 address, or an IPv6
/// /64 (what one subscriber line usually gets; an address within it
/// costs nothing). An IPv4-mapped IPv6 address is its IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The bearer token of an API request (the scheme in any case, as
    /// RFC 9110 11.1 allows).
    pub fn bearer(&self) -> Option<&str> {
        let (scheme, token) = self.header("authorization")?.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }

    pub fn query_map(&self) -> HashMap<String, String> {
        parse_urlencoded(self.query.as_bytes())
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> HashMap<String, String> {
        parse_urlencoded(&self.body)
    }

    /// A JSON body, or `None` when it does not parse.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The path's segments, percent-decoded.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s.as_bytes()))
            .collect()
    }
}

/// A path segment with its `%XX` escapes decoded (`+` stays a plus);
/// invalid UTF-8 becomes U+FFFD, which matches nothing.
pub fn percent_decode(bytes: &[u8]) -> String {
    percent_encoding::percent_decode(bytes)
        .decode_utf8_lossy()
        .into_owned()
}

/// A path as a Location header and `routes::accounts::safe_next` take it:
/// what is not ASCII percent-encoded (`/cases/TPD/%E5%88%91%E4%BA%8B/…`),
/// the rest as it is.
pub fn ascii_path(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, &percent_encoding::AsciiSet::EMPTY).to_string()
}

/// An `application/x-www-form-urlencoded` body or a query string: `+` is a
/// space, a `%` without two hex digits stays as it is, invalid UTF-8
/// becomes U+FFFD; of a repeated name, the last value counts.
pub fn parse_urlencoded(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// Percent-encodes a path segment or query value.
pub fn encode(s: &str) -> String {
    mail::url_encode(s)
}

/// Room for an answer's headers: its own, the security headers every
/// answer carries (`routes::security_headers`) and an API list's
/// validators, so that the map is not grown and rehashed while they are
/// added (the ETag and Vary took it past HeaderMap's first 8 for every
/// API answer: 1.5 k instructions of a case's 230 k).
const HEADERS: usize = 16;

/// A response under construction.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The route's name for metrics (`/cases/{key}`, not the path).
    pub route: &'static str,
}

impl Resp {
    pub fn new(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Resp {
        let mut headers = HeaderMap::with_capacity(HEADERS);
        headers.insert("content-type", HeaderValue::from_static(content_type));
        Resp {
            status,
            headers,
            body,
            route: "other",
        }
    }

    /// 204: no body, so no content type.
    pub fn no_content() -> Resp {
        Resp {
            status: StatusCode::NO_CONTENT,
            headers: HeaderMap::with_capacity(HEADERS),
            body: Vec::new(),
            route: "other",
        }
    }

    pub fn html(status: StatusCode, body: String) -> Resp {
        Resp::new(status, "text/html; charset=utf-8", body.into_bytes())
    }

    pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Resp {
        let body = serde_json::to_vec(value).expect("serialisable");
        Resp::new(status, "application/json", body)
    }

    pub fn text(status: StatusCode, body: String) -> Resp {
        Resp::new(status, "text/plain; charset=utf-8", body.into_bytes())
    }

    /// 308 Permanent Redirect: what was asked lives at `to`, for good
    /// (browsers and caches remember it; the method is kept).
    pub fn moved(to: &str) -> Resp {
        let mut r = Resp::redirect(to);
        r.status = StatusCode::PERMANENT_REDIRECT;
        r
    }

    /// 303 See Other: after a form POST, the browser GETs `to`.
    pub fn redirect(to: &str) -> Resp {
        let mut r = Resp::new(
            StatusCode::SEE_OTHER,
            "text/plain; charset=utf-8",
            Vec::new(),
        );
        r.header("location", to);
        r
    }

    pub fn header(&mut self, name: &'static str, value: &str) -> &mut Resp {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.append(name, v);
        }
        self
    }

    pub fn route(mut self, route: &'static str) -> Resp {
        self.route = route;
        self
    }

    pub fn into_response(self) -> Response<Vec<u8>> {
        let mut r = Response::new(self.body);
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }
}

/// A cookie as the server sets it: always HttpOnly and SameSite=Lax; over
/// HTTPS also Secure (the `__Host-` prefix is part of the name).
pub fn set_cookie(name: &str, value: &str, https: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if https {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// The cookie `name` set empty and expired: the browser drops it.
pub fn clear_cookie(name: &str, https: bool) -> String {
    set_cookie(name, "", https, Some(0))
}

/// Whether a request's path is the API's, whose answers, errors of the
/// HTTP layer included, are JSON: its first segment, as the router reads
/// it (empty segments passed over, `%XX` decoded), is `api` (`//api/v1/…`,
/// `/%61pi/v1/…` too, which the router takes as the API).
pub fn is_api(path: &str) -> bool {
    path.split('/')
        .find(|s| !s.is_empty())
        .is_some_and(|first| percent_decode(first.as_bytes()) == "api")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_paths_decode() {
        let f = parse_urlencoded(b"email=a%40b.tw&password=x+y%25&empty=&flag");
        assert_eq!(f["email"], "a@b.tw");
        assert_eq!(f["password"], "x y%");
        assert_eq!(f["empty"], "");
        assert_eq!(f["flag"], "");
        assert_eq!(percent_decode("%E6%B0%91%E4%BA%8B".as_bytes()), "民事");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"a+b"), "a+b");
    }

    #[test]
    fn a_path_is_ascii_for_the_location_header() {
        assert_eq!(
            ascii_path("/cases/TPD/刑事/115/訴/100"),
            "/cases/TPD/%E5%88%91%E4%BA%8B/115/%E8%A8%B4/100"
        );
        assert_eq!(ascii_path("/cases?x=1"), "/cases?x=1");
        assert_eq!(encode("民事"), "%E6%B0%91%E4%BA%8B");
    }

    #[test]
    fn decoding_keeps_bad_escapes_and_replaces_bad_utf8() {
        let f = parse_urlencoded(b"a=%&b=%4&c=%zz1&d=%FF%41&e=1+1%2B1&e=2");
        assert_eq!(f["a"], "%");
        assert_eq!(f["b"], "%4");
        assert_eq!(f["c"], "%zz1");
        assert_eq!(f["d"], "\u{FFFD}A");
        assert_eq!(f["e"], "2", "the last of a repeated name");
        assert_eq!(parse_urlencoded(b"e=1+1%2B1")["e"], "1 1+1");
        assert_eq!(percent_decode(b"%FF%"), "\u{FFFD}%");
    }

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_over_https() {
        assert_eq!(
            set_cookie("sid", "x", false, None),
            "sid=x; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(set_cookie("__Host-sid", "x", true, Some(0)).ends_with("; Secure; Max-Age=0"));
    }
}
