//! What operators and the pages' furniture need: `/healthz` (the live
//! snapshot, for load balancers; answered even during maintenance),
//! `/metrics` (Prometheus text), the stylesheet, the password fields'
//! script, and the captcha pictures and sounds of the login and "forgot
//! password" forms.

use warp::http::StatusCode;

use crate::app::App;
use crate::http::Resp;

const CSS: &str = include_str!("../../static/site.css");
pub const PASSWORD_JS: &str = include_str!("../../static/password.js");
pub const SIGNED_IN_JS: &str = include_str!("../../static/signed-in.js");

pub fn healthz(app: &App) -> Resp {
    let live = app.live.get();
    let refused = app.live.refused();
    let status = match (&live, &refused) {
        (Some(_), _) => "ok",
        (None, Some(_)) => "refused",
        (None, None) => "no snapshot",
    };
    let body = serde_json::json!({
        "status": status,
        "snapshot": live.as_ref().map(|s| s.name.clone()),
        "snapshot_date": live.as_ref().map(|s| s.date.format("%Y-%m-%d").to_string()),
        "schema_version": live.as_ref().map(|s| s.schema_version),
        // CURRENT names a snapshot that is not served (damaged, unknown
        // schema), even while an older one still is.
        "refused": refused.as_ref().map(|r| serde_json::json!({
            "snapshot": r.name,
            "reason": r.reason,
        })),
    });
    let status = if live.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Resp::json(status, &body).route("/healthz")
}

pub fn metrics(app: &App) -> Resp {
    let live = app.live.get();
    let snap = live.as_ref().map(|s| (s.date, s.name.as_str()));
    Resp::new(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        app.metrics
            .render(
                snap,
                app.conns.open(),
                [
                    ("applicants", app.sessions.reads()),
                    ("prosecutors", app.prosecutors.reads()),
                ],
            )
            .into_bytes(),
    )
    .route("/metrics")
}

/// The password fields' helpers (a strength meter, "show password").
/// A script of `static/`, cached for an hour like the stylesheet.
pub fn script(js: &'static str) -> Resp {
    let mut r = Resp::new(StatusCode::OK, "text/javascript; charset=utf-8", js.into());
    r.header("cache-control", "public, max-age=3600");
    r.route("/static")
}

pub fn stylesheet() -> Resp {
    let mut r = Resp::new(StatusCode::OK, "text/css; charset=utf-8", CSS.into());
    r.header("cache-control", "public, max-age=3600");
    r.route("/static")
}

/// `/captcha/{id}.png`, the picture (the same for one id), and
/// `/captcha/{id}.wav`, the digits read aloud (mixed anew each time); 404
/// for an id this server did not issue or that has expired. Never cached:
/// an id is answered once.
pub fn captcha(app: &App, file: &str) -> Resp {
    let made = if let Some(id) = file.strip_suffix(".png") {
        app.captchas.png(id).map(|b| ("image/png", b))
    } else if let Some(id) = file.strip_suffix(".wav") {
        app.captchas.wav(id).map(|b| ("audio/wav", b))
    } else {
        None
    };
    match made {
        Some((kind, bytes)) => Resp::new(StatusCode::OK, kind, bytes),
        None => Resp::text(
            StatusCode::NOT_FOUND,
            "驗證碼已過期，請重新整理頁面。".into(),
        ),
    }
}
