//! The credential flows shared by the pages and the API: login, setting a
//! password through a link (activation, reset), changing it, and asking
//! for a link. Each runs its argon2 work on the blocking pool, at most one
//! per core at a time.
//!
//! Login and "forgot password" answer the same, in the same time, whether
//! or not an account has the address: an unknown address still costs one
//! argon2 verification, and a link is made and mailed after the answer.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use mail::web::{self, WebMail};

use crate::app::App;
use crate::password;
use crate::sessions::{Kind, Session};
use store::accounts::{self, normalise_email, Purpose};

pub enum Login {
    Ok { id: String, session: Session },
    BadCaptcha,
    BadCredentials,
    Throttled(u64),
}

/// Checks throttling, then the captcha (used up either way), then the
/// password, and starts a session of `kind`.
pub async fn login(
    app: &Arc<App>,
    ip: IpAddr,
    email: &str,
    password: String,
    captcha_id: &str,
    captcha: &str,
    kind: Kind,
) -> Login {
    let email = normalise_email(email);
    if let Some(wait) = app.throttle.check(&email, ip, Instant::now()) {
        app.metrics.login("throttled");
        return Login::Throttled(wait);
    }
    if !app.captchas.take(captcha_id, captcha) {
        app.throttle.failed(None, ip, Instant::now());
        app.metrics.login("bad_captcha");
        return Login::BadCaptcha;
    }
    let _permit = app.hashing.acquire().await.expect("semaphore open");
    let app2 = Arc::clone(app);
    let email2 = email.clone();
    let result = tokio::task::spawn_blocking(move || {
        let account = {
            let conn = app2.accounts.lock().expect("accounts");
            accounts::by_email(&conn, &email2)
        };
        let account = match account {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("login lookup: {e}");
                None
            }
        };
        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        if !password::verify(&password, stored) {
            return None;
        }
        // Verified, so there is an account: no hash never verifies.
        let account = account?;
        let conn = app2.accounts.lock().expect("accounts");
        match app2
            .sessions
            .create(&conn, account.id, &account.email, kind)
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("creating a session: {e}");
                None
            }
        }
    })
    .await
    .ok()
    .flatten();
    match result {
        Some((id, session)) => {
            app.throttle.succeeded(&email);
            app.metrics.login("success");
            Login::Ok { id, session }
        }
        None => {
            app.throttle.failed(Some(&email), ip, Instant::now());
            app.metrics.login("bad_credentials");
            Login::BadCredentials
        }
    }
}

pub enum SetPassword {
    Done,
    /// The link is unknown, used or expired.
    BadLink,
    /// The new password is refused (the message to show).
    Refused(&'static str),
}

/// Sets a password through an activation or reset link; the token is
/// spent only here (a GET of the link only shows the form). A reset ends
/// every session of the account and mails a notice.
pub async fn set_password_by_link(
    app: &Arc<App>,
    token: String,
    purpose: Purpose,
    new: String,
    confirm: String,
) -> SetPassword {
    let _permit = app.hashing.acquire().await.expect("semaphore open");
    let app2 = Arc::clone(app);
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let account = {
            let conn = app2.accounts.lock().expect("accounts");
            accounts::token_account(&conn, &token, purpose, now).unwrap_or_else(|e| {
                tracing::error!("token lookup: {e}");
                None
            })
        };
        let Some(account) = account else {
            // Same cost as a good link.
            let _ = password::hash(&new);
            return SetPassword::BadLink;
        };
        if new != confirm {
            return SetPassword::Refused("兩次輸入的新密碼不一致。");
        }
        if let Err(why) = password::check_new(&new, &account.email) {
            return SetPassword::Refused(why);
        }
        let hash = password::hash(&new);
        let conn = app2.accounts.lock().expect("accounts");
        let done = (|| -> rusqlite::Result<()> {
            let tx = conn.unchecked_transaction()?;
            // Spent, and still unspent at commit: a second POST of the
            // same link finds nothing.
            if accounts::token_account(&tx, &token, purpose, now)?.is_none() {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            accounts::set_password(&tx, account.id, &hash, now)?;
            accounts::spend_tokens(&tx, account.id, purpose, now)?;
            if purpose == Purpose::Activate {
                // The first password also spends any reset link.
                accounts::spend_tokens(&tx, account.id, Purpose::Reset, now)?;
            }
            tx.commit()
        })();
        match done {
            Ok(()) => {
                if purpose == Purpose::Reset {
                    if let Err(e) = app2.sessions.end_all_of(&conn, account.id, None) {
                        tracing::error!("ending sessions: {e}");
                    }
                    drop(conn);
                    mail_changed(&app2, &account.email);
                }
                SetPassword::Done
            }
            Err(rusqlite::Error::QueryReturnedNoRows) => SetPassword::BadLink,
            Err(e) => {
                tracing::error!("setting a password: {e}");
                SetPassword::BadLink
            }
        }
    })
    .await
    .unwrap_or(SetPassword::BadLink)
}

pub enum Change {
    Done,
    WrongCurrent,
    Refused(&'static str),
}

/// Changes the password of a signed-in account: the current one must be
/// right; every other session ends; a notice is mailed.
pub async fn change_password(
    app: &Arc<App>,
    session: &Session,
    current: String,
    new: String,
    confirm: String,
) -> Change {
    let _permit = app.hashing.acquire().await.expect("semaphore open");
    let app2 = Arc::clone(app);
    let (id, keep) = (session.account_id, session.hash);
    tokio::task::spawn_blocking(move || {
        let account = {
            let conn = app2.accounts.lock().expect("accounts");
            accounts::by_id(&conn, id).ok().flatten()
        };
        let Some(account) = account else {
            return Change::WrongCurrent;
        };
        if !password::verify(&current, account.password_hash.as_deref()) {
            return Change::WrongCurrent;
        }
        if new != confirm {
            return Change::Refused("兩次輸入的新密碼不一致。");
        }
        if let Err(why) = password::check_new(&new, &account.email) {
            return Change::Refused(why);
        }
        if password::verify(&new, account.password_hash.as_deref()) {
            return Change::Refused("新密碼與目前的密碼相同。");
        }
        let hash = password::hash(&new);
        let conn = app2.accounts.lock().expect("accounts");
        let done = accounts::set_password(&conn, id, &hash, Utc::now())
            .and_then(|_| app2.sessions.end_all_of(&conn, id, Some(&keep)));
        drop(conn);
        match done {
            Ok(_) => {
                mail_changed(&app2, &account.email);
                Change::Done
            }
            Err(e) => {
                tracing::error!("changing a password: {e}");
                Change::Refused("系統暫時無法變更密碼，請稍後再試。")
            }
        }
    })
    .await
    .unwrap_or(Change::Refused("系統暫時無法變更密碼，請稍後再試。"))
}

fn queue_mail(app: &App, kind: WebMail, email: &str, link: &str, when: chrono::DateTime<Utc>) {
    let view = web::view(kind, email, link, when);
    let queued = {
        let outbox = app.outbox.lock().expect("outbox");
        web::queue(&outbox, &app.cfg.mail, kind, &view, Utc::now())
    };
    match queued {
        Ok(_) => app.mail_now(),
        Err(e) => tracing::error!("queueing {} mail: {e}", kind.as_str()),
    }
}

fn mail_changed(app: &App, email: &str) {
    let link = format!("{}/forgot", app.cfg.mail.site_url);
    queue_mail(app, WebMail::Changed, email, &link, Utc::now());
}

/// After "forgot password" was answered: mails a reset link to an
/// activated account, a new activation link to one not yet activated, and
/// nothing to an unknown address. At most 5 links an hour per address.
pub fn forgot(app: Arc<App>, email: String, ip: IpAddr) {
    let email = normalise_email(&email);
    let now = Instant::now();
    if app.throttle.forgot_check(&email, ip, now) {
        return;
    }
    app.throttle.forgot_record(&email, ip, now);
    std::thread::spawn(move || {
        let now = Utc::now();
        let ttl = app.cfg.server.reset_link;
        let site = app.cfg.mail.site_url.clone();
        let made = {
            let conn = app.accounts.lock().expect("accounts");
            match accounts::by_email(&conn, &email) {
                Ok(Some(a)) => {
                    let (purpose, path) = if a.password_hash.is_some() {
                        (Purpose::Reset, "reset")
                    } else {
                        (Purpose::Activate, "activate")
                    };
                    accounts::new_token(&conn, a.id, purpose, ttl, now)
                        .map(|t| Some(format!("{site}/{path}?token={t}")))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e.into()),
            }
        };
        match made {
            Ok(Some(link)) => queue_mail(&app, WebMail::Reset, &email, &link, now + ttl),
            Ok(None) => {}
            Err(e) => tracing::error!("forgot password: {e}"),
        }
    });
}
