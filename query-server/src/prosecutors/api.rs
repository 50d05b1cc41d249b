//! The native app's single sign-on (RFC 8252), by ID-token exchange: the
//! app asks for a nonce (`POST /api/v1/sso/nonce`), runs the code flow at
//! the MOJ provider itself (its own public client, the system browser,
//! PKCE) with that nonce, and exchanges the ID token for cpor's bearer
//! token (`POST /api/v1/sso/token`). The token is checked exactly as in the
//! web flow, for the app's audience; the nonce's ticket is used once; the
//! account must be one the live snapshot names. The bearer token is an API
//! session with the applicants' lifetimes, and sees the prosecutor's cases
//! under the API's usual `/api/v1/cases` routes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use store::accounts::prosecutors::Via;

use crate::api::Error;
use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::{Req, Resp};
use crate::sessions::Kind;
use crate::sso::SsoError;

#[derive(Deserialize)]
struct TokenBody {
    id_token: String,
    ticket: String,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Serialize)]
struct SessionBody {
    token: String,
    token_type: &'static str,
    idle_timeout: i64,
    expires_at: String,
    account: String,
}

/// A refusal as JSON: the kind as the code, the page's words as the
/// message, the refusal's status.
fn refused(e: &SsoError) -> Resp {
    // Escaped, as the website's refusals: what an app sent must not
    // write lines of its own.
    tracing::warn!(
        "sso (app): refused ({}): {}",
        e.kind(),
        e.to_string().escape_debug()
    );
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = Resp::json(
        status,
        &Error {
            error: e.kind(),
            message: e.user_message().to_string(),
        },
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // As every other 503 of the API: when to try again (the sign-on
        // pauses for `RETRY_DISCOVERY` after the provider did not answer).
        r.header("retry-after", &crate::sso::RETRY_AFTER.to_string());
    }
    r
}

/// `POST /api/v1/sso/nonce`.
pub fn nonce(app: &App) -> Answer {
    let sso = app.sso.as_ref().ok_or(Failure::NotFound)?;
    Ok(match sso.native_nonce() {
        Ok(n) => Resp::json(StatusCode::CREATED, &n),
        Err(e) => refused(&e),
    })
}

/// `POST /api/v1/sso/token`.
pub async fn token(app: &Arc<App>, req: &Req) -> Answer {
    let sso = Arc::clone(app.sso.as_ref().ok_or(Failure::NotFound)?);
    let body = req.json::<TokenBody>().ok_or(Failure::BadRequest {
        code: "bad_request",
        message: "需要 JSON：id_token、ticket（access_token 可省略）。",
    })?;
    sso.may_exchange(req.ip)
        .map_err(|wait| Failure::Throttled(wait, crate::failure::Limit::SignOns))?;
    let exchanged = tokio::task::spawn_blocking(move || {
        sso.exchange_native(&body.id_token, &body.ticket, body.access_token.as_deref())
    })
    .await
    .map_err(|e| Failure::Internal(Box::new(e)))?;
    let identity = match exchanged {
        Ok(i) => i,
        Err(e) => return Ok(refused(&e)),
    };
    match super::web::start_session(app, req, &identity, Kind::Api, Via::App)? {
        Ok((id, s)) => Ok(Resp::json(
            StatusCode::CREATED,
            &SessionBody {
                token: id,
                token_type: "Bearer",
                idle_timeout: app.prosecutors.idle.num_seconds(),
                expires_at: (s.created + app.prosecutors.max).to_rfc3339(),
                account: s.account,
            },
        )),
        Err(e) => Ok(refused(&e)),
    }
}
