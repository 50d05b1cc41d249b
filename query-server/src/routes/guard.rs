//! Who is asking: the browser's session (by its cookie) and the
//! anti-forgery tokens every state-changing form repeats — the session's
//! once signed in, before that the `csrf` cookie's. Tokens are compared in
//! constant time.

use std::collections::HashMap;

use subtle::ConstantTimeEq;

use store::accounts::Record;
use store::secret;

use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::{set_cookie, Req, Resp};
use crate::sessions::{Kind, Session};

/// A decoded form body.
pub type Form = HashMap<String, String>;

/// The browser's session, if its cookie names a live one.
pub fn browser_session(app: &App, req: &Req) -> Option<Session> {
    let id = req.cookie(&app.cookie_name("sid"))?;
    let (s, persist) = app.sessions.get(id, Kind::Browser)?;
    if persist {
        app.record(Record::Seen {
            hash: s.hash,
            at: s.last_seen,
        });
    }
    Some(s)
}

/// Runs `f` for a signed-in browser; anyone else is sent to the login page
/// (`Failure::Unauthorised`).
pub fn with_session(app: &App, req: &Req, f: impl FnOnce(Session) -> Answer) -> Answer {
    match browser_session(app, req) {
        Some(s) => f(s),
        None => Err(Failure::Unauthorised),
    }
}

/// The signed-in browser's session and its form, if the form repeats the
/// session's anti-forgery token.
pub fn session_form(app: &App, req: &Req) -> Result<(Session, Form), Failure> {
    let s = browser_session(app, req).ok_or(Failure::Unauthorised)?;
    let form = req.form();
    if !form.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
        return Err(Failure::Forbidden);
    }
    Ok((s, form))
}

/// The pre-login anti-forgery token: the `csrf` cookie, which each form
/// must repeat; when the browser has none, a new one and the cookie to set.
pub fn anon_csrf(app: &App, req: &Req) -> std::io::Result<(String, Option<String>)> {
    let name = app.cookie_name("csrf");
    Ok(match req.cookie(&name) {
        Some(v) if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (v.to_string(), None)
        }
        _ => {
            let v = schemas::hex(&secret::random_bytes::<16>()?);
            let cookie = set_cookie(&name, &v, app.https, None);
            (v, Some(cookie))
        }
    })
}

/// A form POST before login must repeat the `csrf` cookie.
pub fn anon_csrf_ok(app: &App, req: &Req, form: &Form) -> bool {
    match (req.cookie(&app.cookie_name("csrf")), form.get("csrf")) {
        (Some(c), Some(f)) => !c.is_empty() && same(c, f),
        _ => false,
    }
}

/// Whether a form's token is the expected one, in time that does not
/// depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Adds a `Set-Cookie`, if there is one to set.
pub fn with_cookie(mut r: Resp, cookie: Option<String>) -> Resp {
    if let Some(c) = cookie {
        r.header("set-cookie", &c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_match_only_whole() {
        assert!(same("0123abcd", "0123abcd"));
        assert!(!same("0123abcd", "0123abce"));
        assert!(!same("0123abcd", "0123abc"));
        assert!(!same("", "0"));
        assert!(same("", ""));
    }
}
