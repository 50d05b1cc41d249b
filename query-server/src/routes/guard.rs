//! Who is asking: the browser's session (by its cookie), the anti-forgery
//! tokens every state-changing form repeats — the session's once signed
//! in, before that the `csrf` cookie's, signed with the server's key —
//! and where a POST comes from (`Origin`). Tokens are compared in constant
//! time.

use std::collections::HashMap;

use subtle::ConstantTimeEq;
use url::{Origin, Url};
use warp::http::StatusCode;

use store::accounts::Record;
use store::secret;

use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::{clear_cookie, set_cookie, Req, Resp};
use crate::sessions::{Kind, Session};

/// A decoded form body.
pub type Form = HashMap<String, String>;

/// The browser's session, if its cookie names a live one; 503 if the
/// sessions cannot be read.
pub fn browser_session(app: &App, req: &Req) -> Result<Option<Session>, Failure> {
    let Some(id) = req.cookie(&app.cookie_name("sid")) else {
        return Ok(None);
    };
    let Some((s, persist)) = app
        .sessions
        .get(id, Kind::Browser)
        .map_err(Failure::unavailable)?
    else {
        return Ok(None);
    };
    if persist {
        app.record(Record::Seen {
            hash: s.hash,
            at: s.last_seen,
        });
    }
    Ok(Some(s))
}

/// Runs `f` for a signed-in browser; anyone else is sent to the login page
/// (`Failure::Unauthorised`).
pub fn with_session(app: &App, req: &Req, f: impl FnOnce(Session) -> Answer) -> Answer {
    match browser_session(app, req)? {
        Some(s) => f(s),
        None => Err(Failure::Unauthorised),
    }
}

/// The signed-in browser's session and its form, if the form repeats the
/// session's anti-forgery token.
pub fn session_form(app: &App, req: &Req) -> Result<(Session, Form), Failure> {
    let s = browser_session(app, req)?.ok_or(Failure::Unauthorised)?;
    let form = req.form();
    if !form.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
        return Err(Failure::Forbidden);
    }
    Ok((s, form))
}

/// What the pre-login token is signed for.
const ANON_CSRF: &str = "cpor csrf";

/// The pre-login anti-forgery token: the `csrf` cookie, which each form
/// must repeat; when the browser has none that the server signed, a new
/// one and the cookie to set.
pub fn anon_csrf(app: &App, req: &Req) -> std::io::Result<(String, Option<String>)> {
    let name = app.cookie_name("csrf");
    Ok(match req.cookie(&name) {
        Some(v) if secret::signed_token_ok(&app.key, ANON_CSRF, v) => (v.to_string(), None),
        _ => {
            let v = secret::signed_token(&app.key, ANON_CSRF)?;
            let cookie = set_cookie(&name, &v, app.https, None);
            (v, Some(cookie))
        }
    })
}

const JUST_SET: &str = "cpor just set";

/// How long the login page after a link fills in the address.
const JUST_SET_SECONDS: i64 = 600;

/// The cookie a link's page sets when its password is set: the address,
/// sealed with the server's key and dated, so that the login page it goes
/// to can fill it in (the address never goes in the URL, where logs and
/// history would keep it).
pub fn just_set(app: &App, email: &str) -> String {
    let until = chrono::Utc::now().timestamp() + JUST_SET_SECONDS;
    let data = [&until.to_be_bytes()[..], email.as_bytes()].concat();
    let value = secret::sealed(&app.key, JUST_SET, &data);
    set_cookie(
        &app.cookie_name("just_set"),
        &value,
        app.https,
        Some(JUST_SET_SECONDS as u64),
    )
}

/// The address `just_set` sealed, if this browser has it and it is
/// recent; and the cookie that clears it (shown once: a computer others
/// use next does not keep it). `None` for anything else.
pub fn take_just_set(app: &App, req: &Req) -> Option<(String, String)> {
    let name = app.cookie_name("just_set");
    let data = secret::opened(&app.key, JUST_SET, req.cookie(&name)?)?;
    let (until, email) = data.split_at_checked(8)?;
    let until = i64::from_be_bytes(until.try_into().ok()?);
    let email = String::from_utf8(email.to_vec()).ok()?;
    (chrono::Utc::now().timestamp() <= until).then(|| (email, clear_cookie(&name, app.https)))
}

/// A form POST before login must repeat the `csrf` cookie, and the cookie
/// must be the server's (signed with its key): a cookie and form of the
/// client's choosing, matching, used to pass — a page elsewhere that can
/// set a cookie for the site (a sibling subdomain over http) could post.
pub fn anon_csrf_ok(app: &App, req: &Req, form: &Form) -> bool {
    match (req.cookie(&app.cookie_name("csrf")), form.get("csrf")) {
        (Some(c), Some(f)) => secret::signed_token_ok(&app.key, ANON_CSRF, c) && same(c, f),
        _ => false,
    }
}

/// Whether a state-changing request may have come from the site's own
/// pages, by its `Origin` (defence in depth, after the tokens): none
/// (not a browser, or an old one) or the site's. The site is
/// `mail.site_url`'s origin, or the `Host` the request was sent to (the
/// address the browser used, behind a proxy or not). `null` (a sandboxed
/// or privacy-stripped origin) is not the site's.
pub fn same_origin(app: &App, req: &Req) -> bool {
    let Some(origin) = req.header("origin") else {
        return true;
    };
    // Parsed, as `mail.site_url`'s was (`SiteUrl::origin`), and only as a
    // browser writes one (RFC 6454: its serialization, lower case, no
    // default port, no path): what a parser would only make an origin of
    // is none.
    let sent = origin.trim();
    let Some(origin) = Url::parse(sent)
        .ok()
        .map(|u| u.origin())
        .filter(|o| o.ascii_serialization() == sent)
    else {
        return false;
    };
    if sent == app.cfg.mail.site_url.origin() {
        return true;
    }
    let Origin::Tuple(scheme, ..) = &origin else {
        return false;
    };
    req.header("host")
        .and_then(|host| Url::parse(&format!("{scheme}://{}", host.trim())).ok())
        .is_some_and(|sent_to| sent_to.origin() == origin)
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

/// A form's page answered as the server's failure: 503, to try again.
pub fn unavailable(mut r: Resp) -> Resp {
    r.status = StatusCode::SERVICE_UNAVAILABLE;
    r.header("retry-after", crate::failure::UNAVAILABLE_RETRY);
    r
}

/// The answer that signs a browser out, sending it to `to`: the session
/// cookie cleared, and the browser told to drop what it cached of the site
/// (`Clear-Site-Data: "cache"`, which the standard extends to the
/// back/forward cache), so that Back on a shared computer does not show the
/// signed-out person's pages as they were. Chromium 156 restored them from
/// that cache all the same, `no-store` as they are, so every signed-in page
/// also fetches itself anew when it comes back from it (`static/signed-in.js`).
pub fn signed_out(app: &App, to: &str) -> Resp {
    let mut r = Resp::redirect(to);
    r.header(
        "set-cookie",
        &clear_cookie(&app.cookie_name("sid"), app.https),
    );
    r.header("clear-site-data", "\"cache\"");
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
