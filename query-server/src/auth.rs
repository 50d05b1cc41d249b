//! The credential flows shared by the pages and the API: login, setting a
//! password through a link (activation, reset), changing it, and asking
//! for a link. Database work runs on the blocking pool, argon2 on the
//! hashing threads (`password::Hashers`, one 19 MiB set of blocks each).
//!
//! Login and "forgot password" answer the same, in the same time, whether
//! or not an account has the address: an unknown address still costs one
//! argon2 verification, and a link is made and mailed after the answer by
//! the link mailer, apart from every request (its own thread and database
//! connections).
//! A link's token is looked up before anything is hashed: a made-up link
//! costs one lookup and counts as a failure of the client's address.
//!
//! A login from a browser that signed in to the account before (a valid
//! device cookie, `device`) is a known user's: its own failure limit
//! instead of the account's and the address's, and the hashing threads'
//! known lane. A stranger's login finds the strangers' lane full under a
//! flood and is refused at once (`Login::Busy`, 429), not queued.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use rusqlite::Connection;

use mail::web::{self, WebMail};

use crate::app::App;
use crate::captcha::{Binding, Unrecorded};
use crate::password::{self, Lane, NotRun, Verdict, BUSY_WAIT};
use crate::sessions::{CreateError, Kind, Session};
use crate::throttle::{self, now_ms, Refused};
use store::accounts::{self, normalise_email, Account, Purpose};

pub enum Login {
    Ok {
        id: String,
        session: Session,
        /// The browser's new device cookie (`None` if it could not be
        /// made: no randomness).
        device: Option<String>,
    },
    BadCaptcha,
    BadCredentials,
    Throttled(u64),
    /// The hashing threads have too many strangers' logins waiting: try
    /// again after this many seconds (nothing was counted).
    Busy(u64),
    /// The accounts database could not look the account up or record the
    /// session: the server's failure, not counted against anyone.
    Unavailable,
}

/// A sign-in's database step, at `lane`'s priority (`Hashers::step`).
async fn step<T: Send + 'static>(
    app: &Arc<App>,
    lane: Lane,
    f: impl FnOnce(&App) -> T + Send + Clone + 'static,
) -> Option<T> {
    let a = Arc::clone(app);
    app.hashers.step(lane, move || f(&a)).await
}

/// A captcha as a form or body answered it, and whom the answer is from.
pub struct Answered<'a> {
    pub id: &'a str,
    pub typed: &'a str,
    pub binding: Binding<'a>,
}

/// Checks throttling (a known device's own limit, or the account's and
/// the address's), then the captcha (under the binding it was issued
/// with; used up either way), then the password, and starts a session of
/// `kind`. `device`: the browser's device cookie, if it sent one.
pub async fn login(
    app: &Arc<App>,
    ip: IpAddr,
    email: &str,
    password: String,
    captcha: Answered<'_>,
    kind: Kind,
    device: Option<&str>,
) -> Login {
    let email = normalise_email(email);
    let now = now_ms();
    let device = device.and_then(|c| crate::device::open(&app.key, c, &email, now / 1000));
    // A stranger finding the queue full is refused before anything is
    // counted, looked up or written: under a flood this answer must be
    // the cheapest there is. (The captcha is not used up.)
    if device.is_none() && app.hashers.full(Lane::Stranger) {
        app.metrics.login("busy");
        return Login::Busy(BUSY_WAIT);
    }
    // Counted before anything is checked, in the same transaction as the
    // limit, by whichever process: the hour's last slot goes to one
    // attempt however many run at once.
    let typed = email.clone();
    let hint = if device.is_some() {
        Lane::Known
    } else {
        Lane::Stranger
    };
    let counted = step(app, hint, move |app| {
        // A cookie of before the password's reset or change is a
        // stranger's: its account is looked up here (and not again).
        let looked_up = device.map(|_| {
            let conn = app.accounts.lock().expect("accounts");
            accounts::by_email(&conn, &typed)
        });
        let known = device.filter(|d| {
            let stored = match &looked_up {
                Some(Ok(Some(account))) => account.password_hash.as_deref(),
                _ => None,
            };
            d.signed_in_with(&app.key, stored)
        });
        let counted = match known.and_then(|d| app.throttle.device_attempt(&typed, d.nonce, now)) {
            Some(a) => Ok((a, Lane::Known)),
            None => app
                .throttle
                .attempt(&typed, ip, now)
                .map(|a| (a, Lane::Stranger)),
        };
        (counted, looked_up)
    })
    .await;
    let (counted, looked_up) = counted.unzip();
    let (attempt, lane) = match counted.unwrap_or(Err(Refused::Unavailable)) {
        Ok(a) => a,
        Err(Refused::Wait(wait)) => {
            app.metrics.login("throttled");
            return Login::Throttled(wait);
        }
        Err(Refused::Unavailable) => return unavailable(app),
    };
    // A device cookie that turned out stale (its password reset) made a
    // stranger's login past the first check of the strangers' lane: the
    // same refusal, the count taken back, the captcha not used up.
    if lane == Lane::Stranger && device.is_some() && app.hashers.full(Lane::Stranger) {
        app.throttle.not_checked(attempt);
        app.metrics.login("busy");
        return Login::Busy(BUSY_WAIT);
    }
    match app
        .captchas
        .check(captcha.id, captcha.typed, captcha.binding)
    {
        Ok(true) => {}
        Ok(false) => {
            app.throttle.captcha_failed(attempt);
            app.metrics.login("bad_captcha");
            return Login::BadCaptcha;
        }
        // The captcha's use could not be recorded: nothing was checked.
        Err(Unrecorded) => {
            app.throttle.not_checked(attempt);
            return unavailable(app);
        }
    }
    let account = match looked_up.flatten() {
        Some(looked_up) => Some(looked_up),
        None => {
            let address = email.clone();
            step(app, lane, move |app| {
                let conn = app.accounts.lock().expect("accounts");
                accounts::by_email(&conn, &address)
            })
            .await
        }
    };
    let account = match account {
        Some(Ok(account)) => account,
        failed => {
            if let Some(Err(e)) = failed {
                tracing::error!("login lookup: {e}");
            }
            app.throttle.not_checked(attempt);
            return unavailable(app);
        }
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let verdict = app
        .hashers
        .run(lane, move |h| {
            let verdict = h.verify(&password, stored.as_deref());
            // An older kind of hash is replaced while the password is at
            // hand (only ever after it verified).
            let rehash = (verdict == Verdict::RightOutdated).then(|| h.hash(&password));
            (verdict, rehash)
        })
        .await;
    let (verdict, rehash) = match verdict {
        Ok(v) => v,
        Err(not_run) => {
            app.throttle.not_checked(attempt);
            return match not_run {
                NotRun::Busy => {
                    app.metrics.login("busy");
                    Login::Busy(BUSY_WAIT)
                }
                NotRun::Failed => unavailable(app),
            };
        }
    };
    // Verified, so there is an account: no hash never verifies.
    let account = match account {
        Some(account) if verdict.right() => account,
        _ => {
            // The attempt was counted as a failure when it began.
            drop(attempt);
            app.metrics.login("bad_credentials");
            return Login::BadCredentials;
        }
    };
    let made = step(app, lane, move |app| {
        store::failpoint::pause("login-before-session");
        let mut conn = app.accounts.lock().expect("accounts");
        let verified = account.password_hash.clone().unwrap_or_default();
        let made = (|| -> Result<Made, CreateError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // The password checked must still be the account's: a reset
            // or change committed meanwhile (here or in another process)
            // ended every session, and one made from the old password
            // would outlive it.
            let now = accounts::by_id(&tx, account.id)?.and_then(|a| a.password_hash);
            if now.as_deref() != Some(verified.as_str()) {
                return Ok(Made::Changed);
            }
            // The hash stored after, which the device cookie is bound to.
            let mut hash = verified.clone();
            if let Some(new) = rehash {
                if accounts::replace_hash(&tx, account.id, &hash, &new)? {
                    hash = new;
                }
            }
            let (id, session) = app.sessions.create(&tx, account.id, &account.email, kind)?;
            if let Err(e) = tx.commit() {
                app.sessions.forget(&session.hash);
                return Err(e.into());
            }
            Ok(Made::Session(id, session, hash))
        })();
        made.unwrap_or_else(|e| {
            tracing::error!("creating a session: {e}");
            Made::Failed
        })
    })
    .await
    .unwrap_or(Made::Failed);
    let (id, session, hash) = match made {
        Made::Session(id, session, hash) => (id, session, hash),
        // (the attempt stays counted: the password is no longer right)
        Made::Changed => {
            app.metrics.login("bad_credentials");
            return Login::BadCredentials;
        }
        Made::Failed => {
            // A right password the server could not act on is no failure.
            app.throttle.not_checked(attempt);
            return unavailable(app);
        }
    };
    app.throttle.succeeded(attempt);
    app.metrics.login("success");
    Login::Ok {
        id,
        session,
        device: device_cookie(app, &email, &hash),
    }
}

/// A new device cookie for `email`'s browser, which has just shown it
/// knows the password `hash` stores (`None` without randomness).
fn device_cookie(app: &App, email: &str, hash: &str) -> Option<String> {
    let expires = Utc::now().timestamp() + app.cfg.server.device_cookie.as_secs() as i64;
    crate::device::issue(&app.key, email, hash, expires)
        .map_err(|e| tracing::error!("a device cookie: {e}"))
        .ok()
}

/// What became of a login whose password checked out.
enum Made {
    Session(String, Session, String),
    /// The password was reset or changed while it was checked.
    Changed,
    Failed,
}

fn unavailable(app: &App) -> Login {
    app.metrics.login("unavailable");
    Login::Unavailable
}

/// A new password typed twice, differently.
pub const MISMATCH: &str = "兩次輸入的新密碼不一致。";

/// Everything wrong with a new password typed twice, each said at once by
/// its field (too weak, the two typings differ): a form that said one at a
/// time was sent again only to be told the next, its passwords typed anew
/// each time (the accessibility review of the fiftieth session, WCAG
/// 3.3.1). Empty: it may be set.
pub fn new_password_problems(new: &str, confirm: &str, email: &str) -> Vec<&'static str> {
    let mut whys = Vec::new();
    if let Err(why) = password::check_new(new, email) {
        whys.push(why);
    }
    if new != confirm {
        whys.push(MISMATCH);
    }
    whys
}

pub enum SetPassword {
    /// Set: the account's address, and after a reset a device cookie for
    /// the new password (the browser proved the mailbox).
    Done {
        email: String,
        device: Option<String>,
        /// It replaced a password (a reset link, or an activation link
        /// of an account that had one): sessions and feed ended, notice
        /// mailed.
        reset: bool,
    },
    /// The link is unknown, used or expired.
    BadLink,
    /// An activation link of an account with no password whose address no
    /// live grant names (`activates_nothing`): nothing set, the link kept.
    NoCase(String),
    /// The new password is refused (the messages to show, each of its
    /// field).
    Refused(Vec<&'static str>),
    /// Too many failures from this address: the seconds to wait.
    Throttled(u64),
    /// The database could not be read or written even after waiting: the
    /// link is not to blame, and still works.
    Busy,
}

/// Sets a password through an activation or reset link; the token is
/// spent only here (a GET of the link only shows the form). The token is
/// checked first: a link that opens no account is a failure of `ip`, and
/// nothing is hashed for it. A reset ends every session of the account
/// and mails a notice.
pub async fn set_password_by_link(
    app: &Arc<App>,
    ip: IpAddr,
    token: String,
    purpose: Purpose,
    new: String,
    confirm: String,
) -> SetPassword {
    if let Some(wait) = app.throttle.check_ip(ip, now_ms()) {
        return SetPassword::Throttled(wait);
    }
    let t = token.clone();
    // Not yet known to be a link: a stranger's step.
    let account = step(app, Lane::Stranger, move |app| {
        let conn = app.accounts.lock().expect("accounts");
        accounts::token_account(&conn, &t, purpose, Utc::now())
    })
    .await;
    let account = match account {
        Some(Ok(Some(account))) => account,
        Some(Ok(None)) => {
            app.throttle.failed(None, ip, now_ms());
            return SetPassword::BadLink;
        }
        Some(Err(e)) => {
            tracing::error!("token lookup: {e}");
            return SetPassword::Busy;
        }
        None => return SetPassword::Busy,
    };
    if activates_nothing(app, purpose, &account) {
        return SetPassword::NoCase(account.email);
    }
    let whys = new_password_problems(&new, &confirm, &account.email);
    if !whys.is_empty() {
        return SetPassword::Refused(whys);
    }
    // The link opened an account: whoever holds it is no stranger.
    let Ok(hash) = app.hashers.run(Lane::Known, move |h| h.hash(&new)).await else {
        return SetPassword::Busy;
    };
    step(app, Lane::Known, move |app| {
        spend_link(app, &token, purpose, &account, &hash)
    })
    .await
    .unwrap_or(SetPassword::Busy)
}

/// Sets the new password if the link still opens the account, spending it.
fn spend_link(
    app: &App,
    token: &str,
    purpose: Purpose,
    account: &Account,
    hash: &str,
) -> SetPassword {
    let now = Utc::now();
    let mut conn = app.accounts.lock().expect("accounts");
    let done = (|| -> rusqlite::Result<bool> {
        // The write lock first, waiting for another writer up to the busy
        // timeout: a transaction that reads and then writes cannot wait,
        // SQLite answers "database is locked" at once.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Spent, and still unspent at commit: a second POST of the
        // same link finds nothing.
        let Some(now_is) = accounts::token_account(&tx, token, purpose, now)? else {
            return Err(rusqlite::Error::QueryReturnedNoRows);
        };
        // An activation link of an account that has a password (made as
        // it was activated: the night's mail step and the link mailer
        // read the account first) replaces it: a reset, in all it does.
        let reset = purpose == Purpose::Reset || now_is.password_hash.is_some();
        accounts::set_password(&tx, account.id, hash, now)?;
        accounts::spend_tokens(&tx, account.id, purpose, now)?;
        if purpose == Purpose::Activate {
            // The first password also spends any reset link.
            accounts::spend_tokens(&tx, account.id, Purpose::Reset, now)?;
        }
        if reset {
            // In the same commit: a reset ends every session, or nothing,
            // and the calendar feed, a secret like a session (whoever got
            // into the account may have made it: the reset is how its
            // owner takes the account back).
            app.sessions.end_all_of(&tx, account.id, None)?;
            store::hearings::revoke_feed(&tx, store::hearings::Holder::Applicant(account.id))?;
        }
        tx.commit()?;
        Ok(reset)
    })();
    drop(conn);
    match done {
        Ok(reset) => {
            if reset {
                mail_changed(app, &account.email);
            }
            SetPassword::Done {
                email: account.email.clone(),
                // A reset voids the browser's old cookie; the one that made
                // it proved the mailbox. (An activation's browser signs in
                // next, and gets its first one then.)
                device: reset
                    .then(|| device_cookie(app, &account.email, hash))
                    .flatten(),
                reset,
            }
        }
        Err(rusqlite::Error::QueryReturnedNoRows) => SetPassword::BadLink,
        Err(e) => {
            tracing::error!("setting a password: {e}");
            SetPassword::Busy
        }
    }
}

pub enum Change {
    /// Changed: a device cookie for the new password (the browser proved
    /// the current one).
    Done(Option<String>),
    /// The current password is wrong; and what is wrong with the new one,
    /// said with it.
    WrongCurrent(Vec<&'static str>),
    Refused(Vec<&'static str>),
    /// The session has had its wrong current passwords for the hour: not
    /// checked; seconds to wait.
    Throttled(u64),
    /// The known browsers' hashing lane is full: not checked, not counted;
    /// seconds to wait.
    Busy(u64),
    /// The accounts database could not be read or written: the password
    /// did not change.
    Unavailable,
    /// The password changed meanwhile (another change, a reset, a login
    /// moving it to a newer kind of hash): nothing changed.
    Moved,
    /// The account's password changed [`throttle::CHANGES_PER_HOUR`]
    /// times this hour: seconds to wait.
    TooMany(u64),
    /// The session ended while the change was checked (a reset, a sign-out
    /// elsewhere): nothing changed.
    SignedOut,
}

/// What the hashing thread decided about a password change.
enum Checked {
    Wrong(Vec<&'static str>),
    Refused(Vec<&'static str>),
    Hashed(String),
}

/// Changes the password of a signed-in account: the current one must be
/// right; every other session ends, every pending link is void; a notice
/// is mailed.
pub async fn change_password(
    app: &Arc<App>,
    session: &Session,
    current: String,
    new: String,
    confirm: String,
) -> Change {
    let (id, keep) = (session.account_id, session.hash);
    let account = step(app, Lane::Known, move |app| {
        let conn = app.accounts.lock().expect("accounts");
        accounts::by_id(&conn, id)
    })
    .await;
    let account = match account {
        Some(Ok(Some(account))) => account,
        // (the session outlived its account)
        Some(Ok(None)) => return Change::WrongCurrent(Vec::new()),
        Some(Err(e)) => {
            tracing::error!("password change lookup: {e}");
            return Change::Unavailable;
        }
        None => return Change::Unavailable,
    };
    let (stored, email) = (account.password_hash.clone(), account.email.clone());
    // Counted before the check, as a known browser's login is
    // (`Throttle::session_attempt`).
    let key: [u8; 16] = keep[..16].try_into().expect("16 bytes");
    let typed = email.clone();
    let counted = step(app, Lane::Known, move |app| {
        app.throttle.session_attempt(&typed, key, now_ms())
    })
    .await;
    let attempt = match counted.unwrap_or(Err(Refused::Unavailable)) {
        Ok(a) => a,
        Err(Refused::Wait(wait)) => return Change::Throttled(wait),
        Err(Refused::Unavailable) => return Change::Unavailable,
    };
    let checked = app
        .hashers
        .run(Lane::Known, move |h| {
            // (the new one's rules are public: said with a wrong current
            // one, they tell nothing; whether it is the current one is
            // checked only once that is proved)
            let whys = new_password_problems(&new, &confirm, &email);
            if !h.verify(&current, stored.as_deref()).right() {
                return Checked::Wrong(whys);
            }
            if !whys.is_empty() {
                return Checked::Refused(whys);
            }
            if h.verify(&new, stored.as_deref()).right() {
                return Checked::Refused(vec!["新密碼與目前的密碼相同。"]);
            }
            Checked::Hashed(h.hash(&new))
        })
        .await;
    let hash = match checked {
        // (a wrong one stays counted)
        Ok(Checked::Wrong(whys)) => return Change::WrongCurrent(whys),
        Ok(Checked::Hashed(hash)) => {
            app.throttle.succeeded(attempt);
            hash
        }
        Ok(Checked::Refused(why)) => {
            app.throttle.succeeded(attempt);
            return Change::Refused(why);
        }
        Err(not_run) => {
            app.throttle.not_checked(attempt);
            return match not_run {
                NotRun::Busy => Change::Busy(BUSY_WAIT),
                NotRun::Failed => Change::Unavailable,
            };
        }
    };
    // (a crash test stops here, between the check and the write)
    let _ = tokio::task::spawn_blocking(|| store::failpoint::pause("change-before-commit")).await;
    let checked = account.password_hash.clone();
    step(app, Lane::Known, move |app| {
        let mut conn = app.accounts.lock().expect("accounts");
        let now = Utc::now();
        // `Some`: why nothing changed, found in the write's transaction.
        let done = (|| -> rusqlite::Result<Option<Change>> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // What was checked must still hold at the write: the session
            // still lives (a reset or a sign-out ended it), and the
            // password it typed is still the account's (a reset or another
            // change committed meanwhile would be undone).
            if !app.sessions.lives(&tx, &keep)? {
                return Ok(Some(Change::SignedOut));
            }
            if accounts::by_id(&tx, id)?.and_then(|a| a.password_hash) != checked {
                return Ok(Some(Change::Moved));
            }
            // A few changes an hour: whoever knew the password changed it
            // again and again, voiding each reset link its owner asked for
            // and mailing a notice each time.
            if let Err(wait) = throttle::count_change(&tx, &account.email, now_ms())? {
                return Ok(Some(Change::TooMany(wait)));
            }
            accounts::set_password(&tx, id, &hash, now)?;
            // A link mailed before the change would undo it: whoever
            // changes the password (the owner, having noticed) voids them.
            accounts::spend_tokens(&tx, id, Purpose::Reset, now)?;
            accounts::spend_tokens(&tx, id, Purpose::Activate, now)?;
            // In the same commit: a password changed whose other sessions
            // live on is not the change its owner asked for.
            app.sessions.end_all_of(&tx, id, Some(&keep))?;
            tx.commit()?;
            Ok(None)
        })();
        drop(conn);
        match done {
            Ok(None) => {
                mail_changed(app, &account.email);
                Change::Done(device_cookie(app, &account.email, &hash))
            }
            Ok(Some(unchanged)) => unchanged,
            Err(e) => {
                tracing::error!("changing a password: {e}");
                Change::Unavailable
            }
        }
    })
    .await
    .unwrap_or(Change::Unavailable)
}

fn queue_mail(app: &App, kind: WebMail, email: &str, link: &str, when: chrono::DateTime<Utc>) {
    let outbox = app.outbox.lock().expect("outbox");
    queue_mail_on(app, &outbox, kind, email, link, when);
}

fn queue_mail_on(
    app: &App,
    outbox: &Connection,
    kind: WebMail,
    email: &str,
    link: &str,
    when: chrono::DateTime<Utc>,
) {
    let view = web::view(&app.cfg.mail, kind, email, link, when);
    queue_view_on(app, outbox, kind, &view);
}

fn queue_view_on(app: &App, outbox: &Connection, kind: WebMail, view: &mail::render::View) {
    match web::queue(outbox, &app.cfg.mail, kind, view, Utc::now()) {
        Ok(_) => app.mail_now(),
        Err(e) => tracing::error!("queueing {} mail: {e}", kind.as_str()),
    }
}

fn mail_changed(app: &App, email: &str) {
    let link = format!("{}/forgot", app.cfg.mail.site_url);
    queue_mail(app, WebMail::Changed, email, &link, Utc::now());
}

/// "Forgot password", answered: hands the address to the link mailer
/// (at most 5 links an hour per address, 30 requests per client address),
/// and returns at once; an error when the request could not be counted
/// (nothing mailed, whatever the address).
pub fn forgot(app: &App, email: &str, ip: IpAddr) -> Result<(), Refused> {
    let email = normalise_email(email);
    if app.throttle.forgot(&email, ip, now_ms())? {
        app.mail_link_to(email);
    }
    Ok(())
}

/// Whether the live snapshot grants `email` a queryable case (a snapshot
/// that cannot be read says no: nothing is made from it).
pub(crate) fn granted(app: &App, email: &str) -> bool {
    app.live
        .get()
        .and_then(|s| s.cases_of(email).ok())
        .is_some_and(|cases| !cases.is_empty())
}

/// Whether a link would give a first password to an account whose address
/// no live grant names (its only case past its last day, its grant
/// revoked, the row an unsubscribe made): as "forgot password" mails such
/// an address no activation link, its night's link opens no account (the
/// mail-links review of the fifty-third session: it did, and its holder
/// signed in to an account no grant names). An account with a password is
/// not made by it: its link is a reset, as "forgot password" would mail.
pub(crate) fn activates_nothing(app: &App, purpose: Purpose, account: &Account) -> bool {
    purpose == Purpose::Activate && account.password_hash.is_none() && !granted(app, &account.email)
}

/// The link mailer's work for one address: a reset link to an activated
/// account, a new activation link to an address a live grant names that
/// is not activated yet or has no account (its activation was never
/// mailed: the night given up with `outbox forget`), nothing to any other
/// address. It runs on the link mailer's own thread and its own
/// connections to both databases, so no request ever waits for it: the
/// token's fsync and the mail's queueing happened while holding the shared
/// accounts lock, and the next request was slow only for an address that
/// has an account.
pub fn mail_link(app: &App, accounts_db: &Connection, outbox: &Connection, email: &str) {
    let now = Utc::now();
    // Ending while the site is closed for the night (asked at 00:25, good
    // for 30 minutes), it lasts as long again after the site opens as the
    // window took of it (to 03:25).
    let ttl = app.maintenance.open_by(now + app.cfg.server.reset_link) - now;
    let site = &app.cfg.mail.site_url;
    let made = match accounts::by_email(accounts_db, email) {
        Ok(Some(a)) if a.password_hash.is_some() => {
            accounts::new_token(accounts_db, a.id, Purpose::Reset, ttl, now)
                .map(|t| Some((Purpose::Reset, t)))
        }
        // Never activated: only while a live grant names it (its grant
        // revoked, or the row made by an unsubscribe, it is someone with
        // no case).
        Ok(Some(a)) if granted(app, email) => {
            accounts::new_token(accounts_db, a.id, Purpose::Activate, ttl, now)
                .map(|t| Some((Purpose::Activate, t)))
        }
        Ok(Some(_)) => Ok(None),
        Ok(None) if granted(app, email) => {
            accounts::create_or_get(accounts_db, email, &now.to_rfc3339())
                .map_err(accounts::TokenError::from)
                .and_then(|id| accounts::new_token(accounts_db, id, Purpose::Activate, ttl, now))
                .map(|t| Some((Purpose::Activate, t)))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e.into()),
    };
    match made {
        // (an activation link says so: the reset mail's words are wrong
        // for an account with no password)
        Ok(Some((Purpose::Activate, t))) => {
            let link = format!("{site}/activate?token={t}");
            let view = web::activation_link_view(&app.cfg.mail, email, &link, now + ttl);
            queue_view_on(app, outbox, WebMail::Reset, &view);
        }
        Ok(Some((_, t))) => {
            let link = format!("{site}/reset?token={t}");
            queue_mail_on(app, outbox, WebMail::Reset, email, &link, now + ttl)
        }
        Ok(None) => {}
        Err(e) => tracing::error!("forgot password: {e}"),
    }
}
