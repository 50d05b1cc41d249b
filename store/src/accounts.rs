//! The accounts database (`<data>/accounts.sqlite`): accounts, single-use
//! tokens (activation, reset), digests on or off, flagged addresses, and the
//! website's lazily written records (case views, visits, session activity).
//! The schema is `schemas/accounts/`. `cpor-etl` creates accounts and
//! activation tokens when a clerk approves an address; the website sets
//! passwords and sessions.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::secret::{self, Mailing};

pub mod prosecutors;
pub mod shared;

pub const ACCOUNTS_DB: &str = "accounts.sqlite";

/// Opens the accounts database of a data directory, migrating it.
pub fn open(data_dir: &Path) -> Result<Connection, schemas::MigrateError> {
    schemas::open_migrated(&data_dir.join(ACCOUNTS_DB), schemas::ACCOUNTS_MIGRATIONS)
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub digests: bool,
}

/// Addresses are kept lower-cased and trimmed, as grants store them. An
/// address typed with a Chinese input method in full-width mode
/// (`ｌａｗｙｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ`, the ideographic space around it)
/// is the ASCII address it looks like, at the website's login and in the
/// court's applicant file alike (the import normalises with this). A
/// domain in Chinese (`chen@例子.台灣`, Taiwan's own `.台灣`; a full stop
/// typed as `。`) is its ASCII form (IDNA, UTS 46: `xn--…`), the one mail
/// programs send to (the mail review of the forty-ninth session: no mail
/// could reach it). A mailbox name in Chinese stays as it is: no mail
/// reaches it without SMTPUTF8 (`mail::mailable` names it).
///
/// ```
/// use store::accounts::normalise_email;
/// assert_eq!(normalise_email(" Chen@Example.COM "), "chen@example.com");
/// assert_eq!(normalise_email("ｃｈｅｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"), "chen@example.com");
/// assert_eq!(normalise_email("chen@例子.台灣"), "chen@xn--fsqu00a.xn--kpry57d");
/// assert_eq!(normalise_email("chen@gmail。com"), "chen@gmail.com");
/// assert_eq!(normalise_email("陳@example.com"), "陳@example.com");
/// ```
pub fn normalise_email(email: &str) -> String {
    let email = email.trim();
    if email.is_ascii() {
        return email.to_ascii_lowercase();
    }
    let email = as_typed_before(email);
    match email.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => match idna::domain_to_ascii(domain) {
            Ok(ascii) => format!("{local}@{ascii}"),
            Err(_) => email,
        },
        _ => email,
    }
}

/// The form [`normalise_email`] gave `email` before it took a domain in
/// Chinese to its ASCII form (the forty-ninth session), if that is another:
/// what was kept of such an address then is under it (`forget-address`
/// deletes both).
pub fn earlier_form(email: &str) -> Option<String> {
    let email = email.trim();
    Some(as_typed_before(email)).filter(|e| !email.is_ascii() && *e != normalise_email(email))
}

/// Trimmed, full-width letters and digits made ASCII, lower-cased.
fn as_typed_before(email: &str) -> String {
    email
        .trim()
        .chars()
        .map(schemas::text::half_width)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The id of `email`'s account, made (not activated) if it has none: for
/// an address a grant names. Either the nightly mail (its activation) or
/// the website (忘記密碼 for an address whose activation was never mailed)
/// may be first; the other finds the same account.
pub fn create_or_get(conn: &Connection, email: &str, now: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT OR IGNORE INTO accounts (email, created_at) VALUES (?1, ?2)")?
        .execute(params![email, now])?;
    conn.prepare_cached("SELECT id FROM accounts WHERE email = ?1")?
        .query_row([email], |r| r.get(0))
}

pub fn by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<Account>> {
    one(conn, "email = ?1", email)
}

pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Account>> {
    one(conn, "id = ?1", id)
}

/// The account `condition` selects, if any.
fn one(
    conn: &Connection,
    condition: &str,
    value: impl rusqlite::ToSql,
) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(&format!(
        "SELECT id, email, password_hash, digests FROM accounts WHERE {condition}"
    ))?
    .query_row([value], |r| {
        Ok(Account {
            id: r.get(0)?,
            email: r.get(1)?,
            password_hash: r.get(2)?,
            digests: r.get::<_, i64>(3)? == 1,
        })
    })
    .optional()
}

/// Sets a password (the first one activates the account).
pub fn set_password(
    conn: &Connection,
    id: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET password_hash = ?2, activated_at = coalesce(activated_at, ?3)
         WHERE id = ?1",
        params![id, hash, now.to_rfc3339()],
    )?;
    Ok(())
}

/// Replaces a password hash by a new hash of the same password (an older
/// kind of hash, after it verified), unless the password changed meanwhile.
pub fn replace_hash(conn: &Connection, id: i64, old: &str, new: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE accounts SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
        params![id, old, new],
    )? == 1)
}

pub fn set_digests(conn: &Connection, id: i64, on: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET digests = ?2 WHERE id = ?1",
        params![id, on as i64],
    )?;
    Ok(())
}

/// Turns digests off for an address (one-click unsubscribe): an
/// applicant's account, and a prosecutor's opt-in to the same address.
/// Returns whether an account had the address.
pub fn unsubscribe(conn: &Connection, email: &str, granted: bool) -> rusqlite::Result<bool> {
    known_for_unsubscribe(conn, email, granted)?;
    let applicants = conn.execute("UPDATE accounts SET digests = 0 WHERE email = ?1", [email])?;
    let prosecutors = conn.execute(
        "UPDATE prosecutor_accounts SET digests = 0 WHERE email = ?1",
        [email],
    )?;
    Ok(applicants + prosecutors > 0)
}

/// Before an unsubscribe link's setting is written: an address with no
/// account of either kind that a live grant names (`granted`) gets its
/// applicant row (not activated), so that the setting holds. Mail goes to
/// such an address all the same (a live grant's, whose activation was never
/// mailed: its night given up with `outbox forget`), and its unsubscribe
/// said done and changed nothing. One no grant names gets none: nothing
/// will mail it, and an address forgotten (`forget`) pressing the link in
/// an old mail was made again, for ever.
pub fn known_for_unsubscribe(
    conn: &Connection,
    email: &str,
    granted: bool,
) -> rusqlite::Result<()> {
    if !granted {
        return Ok(());
    }
    let known: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE email = ?1)
             OR EXISTS (SELECT 1 FROM prosecutor_accounts WHERE email = ?1)",
        [email],
        |r| r.get(0),
    )?;
    if !known {
        create_or_get(conn, email, &Utc::now().to_rfc3339())?;
    }
    Ok(())
}

/// Activation or reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Activate,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Activate => "activate",
            Purpose::Reset => "reset",
        }
    }
}

/// The account a token opens, if the token is of this purpose, unused and
/// unexpired. Does not spend it.
pub fn token_account(
    conn: &Connection,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<Account>> {
    let id: Option<i64> = conn
        .prepare_cached(
            "SELECT account_id FROM tokens WHERE hash = ?1 AND purpose = ?2
             AND used_at IS NULL AND expires_at > ?3",
        )?
        .query_row(
            params![
                secret::token_hash(token),
                purpose.as_str(),
                now.to_rfc3339()
            ],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => by_id(conn, id),
        None => Ok(None),
    }
}

/// Spends a token and every other unused token of the account with the
/// same purpose (an activation link used, the others are moot).
pub fn spend_tokens(
    conn: &Connection,
    account_id: i64,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE tokens SET used_at = ?3 WHERE account_id = ?1 AND purpose = ?2 AND used_at IS NULL",
        params![account_id, purpose.as_str(), now.to_rfc3339()],
    )?;
    Ok(())
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("no randomness for a token: {0}")]
    Randomness(std::io::Error),
}

/// A new token for an account; for a reset, every older unused reset link
/// is voided first (a newer link voids the older ones).
pub fn new_token(
    conn: &Connection,
    account_id: i64,
    purpose: Purpose,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    if purpose == Purpose::Reset {
        spend_tokens(conn, account_id, Purpose::Reset, now)?;
    }
    token_maker(conn, purpose, ttl, now)?(account_id)
}

/// Makes new tokens of one purpose, all at `now`, valid for `ttl`: one
/// statement prepared once, for a night's activation links (a first
/// national load makes about 1.5M). A reset voids older links first:
/// that is [`new_token`]'s.
pub fn token_maker(
    conn: &Connection,
    purpose: Purpose,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<impl FnMut(i64) -> Result<String, TokenError> + '_, TokenError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO tokens (hash, account_id, purpose, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let (created, expires) = (now.to_rfc3339(), (now + ttl).to_rfc3339());
    Ok(move |account_id| {
        let (token, hash) = secret::new_token().map_err(TokenError::Randomness)?;
        insert.execute(params![
            hash,
            account_id,
            purpose.as_str(),
            created,
            expires
        ])?;
        Ok(token)
    })
}

/// What the background writer records.
#[derive(Debug)]
pub enum Record {
    View {
        account_id: i64,
        case: String,
        at: DateTime<Utc>,
    },
    /// An HTML page served (a site visit), on this Taipei day.
    Visit { day: String },
    /// A session's last request (an applicant's or a prosecutor's).
    Seen { hash: [u8; 32], at: DateTime<Utc> },
    /// A prosecutor's case view (`prosecutor_case_views`).
    ProsecutorView {
        prosecutor_id: i64,
        case: String,
        at: DateTime<Utc>,
    },
}

/// Writes a batch of records in one transaction.
pub fn write_records(conn: &mut Connection, records: &[Record]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut view = tx.prepare_cached(
            "INSERT INTO case_views (account_id, case_key, at) VALUES (?1, ?2, ?3)",
        )?;
        let mut visit = tx.prepare_cached(
            "INSERT INTO daily_visits (day, visits) VALUES (?1, ?2)
             ON CONFLICT (day) DO UPDATE SET visits = visits + ?2",
        )?;
        // One upsert per day and batch, not per page served.
        let mut visits: std::collections::BTreeMap<&str, i64> = Default::default();
        let mut seen = tx.prepare_cached(
            "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE hash = ?1",
        )?;
        let mut prosecutor_seen = tx.prepare_cached(
            "UPDATE prosecutor_sessions SET last_seen_at = max(last_seen_at, ?2) WHERE hash = ?1",
        )?;
        let mut prosecutor_view = tx.prepare_cached(
            "INSERT INTO prosecutor_case_views (prosecutor_id, case_key, at) VALUES (?1, ?2, ?3)",
        )?;
        for r in records {
            match r {
                Record::View {
                    account_id,
                    case,
                    at,
                } => {
                    view.execute(params![account_id, case, at.to_rfc3339()])?;
                }
                Record::Visit { day } => {
                    *visits.entry(day).or_default() += 1;
                }
                Record::Seen { hash, at } => {
                    // Ids are random: the hash names a row of one table.
                    seen.execute(params![&hash[..], at.to_rfc3339()])?;
                    prosecutor_seen.execute(params![&hash[..], at.to_rfc3339()])?;
                }
                Record::ProsecutorView {
                    prosecutor_id,
                    case,
                    at,
                } => {
                    prosecutor_view.execute(params![prosecutor_id, case, at.to_rfc3339()])?;
                }
            }
        }
        for (day, n) in visits {
            visit.execute(params![day, n])?;
        }
    }
    tx.commit()
}

/// Deletes the case views of every Asia/Taipei day (the days of `stats`)
/// before `before_day` (YYYY-MM-DD), each day in its own transaction after
/// its counts (views, distinct viewers) went to `daily_case_views`.
/// Returns the views deleted.
pub fn purge_case_views(conn: &mut Connection, before_day: &str) -> rusqlite::Result<usize> {
    purge_day_by_day(
        conn,
        "SELECT DISTINCT date(at, '+8 hours') AS day FROM case_views WHERE day < ?1 ORDER BY 1",
        before_day,
        |tx, day| {
            tx.execute(
                "INSERT INTO daily_case_views (day, views, viewers)
                 SELECT ?1, count(*), count(DISTINCT account_id) FROM case_views
                 WHERE date(at, '+8 hours') = ?1
                 ON CONFLICT (day) DO UPDATE
                 SET views = views + excluded.views, viewers = viewers + excluded.viewers",
                [day],
            )?;
            tx.execute(
                "DELETE FROM case_views WHERE date(at, '+8 hours') = ?1",
                [day],
            )
        },
    )
}

/// Records night `night`'s grants (YYYYMMDD) by the day a clerk approved
/// them (its snapshot's `schemas::case::grants_by_day`) for `cpor-server
/// stats`, which counts for each day the most any night held: a grant that
/// leaves a later snapshot (its case past its last day, revoked) stays
/// counted. The night's earlier rows (a re-run) are replaced. Rows of
/// nights before `kept_from` (the oldest kept snapshot's night: none can
/// be rolled back to) are folded into one per day.
pub fn record_grants_approved(
    conn: &mut Connection,
    night: &str,
    days: &[(chrono::NaiveDate, u64)],
    kept_from: &str,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM daily_grants WHERE night = ?1", [night])?;
    {
        let mut st =
            tx.prepare("INSERT INTO daily_grants (day, night, grants) VALUES (?1, ?2, ?3)")?;
        for (day, n) in days {
            st.execute(rusqlite::params![
                day.format("%Y-%m-%d").to_string(),
                night,
                *n as i64
            ])?;
        }
    }
    tx.execute(
        "INSERT INTO daily_grants (day, night, grants)
         SELECT day, '', max(grants) FROM daily_grants
         WHERE night <> '' AND night < ?1 GROUP BY day
         ON CONFLICT (day, night) DO UPDATE SET grants = max(grants, excluded.grants)",
        [kept_from],
    )?;
    tx.execute(
        "DELETE FROM daily_grants WHERE night <> '' AND night < ?1",
        [kept_from],
    )?;
    tx.commit()
}

/// Forgets the grants recorded by nights after `night` (YYYYMMDD): a
/// rollback to it (their snapshots are no longer the service's).
pub fn forget_grants_after(conn: &Connection, night: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM daily_grants WHERE night > ?1", [night])
}

/// Purges, for each Asia/Taipei day `days` (a query of `before_day`)
/// gives, what `purge` deletes of it after keeping its counts, each day in
/// a transaction of its own. Returns how many rows went.
pub(crate) fn purge_day_by_day(
    conn: &mut Connection,
    days: &str,
    before_day: &str,
    purge: impl Fn(&rusqlite::Transaction<'_>, &str) -> rusqlite::Result<usize>,
) -> rusqlite::Result<usize> {
    let days: Vec<String> = conn
        .prepare(days)?
        .query_map([before_day], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if days.is_empty() {
        return Ok(0);
    }
    // (the long-run review of the forty-eighth session read every purged
    // view in the file's free space)
    schemas::overwrite_deleted(conn)?;
    let mut deleted = 0;
    for day in days {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        deleted += purge(&tx, &day)?;
        tx.commit()?;
    }
    schemas::checkpoint_log(conn);
    Ok(deleted)
}

/// What the accounts database keeps of an address ([`forget`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept {
    /// Its applicant account (0 or 1), with its links, sessions, case
    /// views and calendar feed.
    pub account: u64,
    pub tokens: u64,
    pub sessions: u64,
    pub case_views: u64,
    pub feeds: u64,
    /// Its bounce flag (0 or 1).
    pub flag: u64,
    /// Prosecutors' accounts that give it as their address (kept, the
    /// address and their digest and reminders taken off them).
    pub prosecutors: u64,
    /// Deleted, but the write-ahead log could not be emptied (a reader
    /// held it): older page images of the rows stay in
    /// `accounts.sqlite-wal` until a later checkpoint empties it.
    pub log_held: bool,
}

impl Kept {
    /// Nothing kept of the address (whatever became of the log).
    pub fn is_empty(&self) -> bool {
        Kept {
            log_held: false,
            ..*self
        } == Kept::default()
    }
}

/// Deletes everything the accounts database keeps of `email` (lower-cased
/// as stored): its applicant account with its links, sessions, case views
/// and calendar feed, and its bounce flag; a prosecutor's account giving
/// it keeps the account (the MOJ's) without the address, and so without
/// digest or reminders. One transaction; `dry_run`: counts only.
pub fn forget(conn: &mut Connection, email: &str, dry_run: bool) -> rusqlite::Result<Kept> {
    schemas::overwrite_deleted(conn)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let count = |sql: &str| -> rusqlite::Result<u64> {
        tx.query_row(sql, [email], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    const OF: &str = "account_id IN (SELECT id FROM accounts WHERE email = ?1)";
    // Its case views leave their counts, as retention's purge does: the
    // statistics of past days do not change.
    let kept = Kept {
        account: count("SELECT count(*) FROM accounts WHERE email = ?1")?,
        tokens: count(&format!("SELECT count(*) FROM tokens WHERE {OF}"))?,
        sessions: count(&format!("SELECT count(*) FROM sessions WHERE {OF}"))?,
        case_views: count(&format!("SELECT count(*) FROM case_views WHERE {OF}"))?,
        feeds: count(&format!("SELECT count(*) FROM calendar_feeds WHERE {OF}"))?,
        flag: count("SELECT count(*) FROM flagged_addresses WHERE email = ?1")?,
        prosecutors: count("SELECT count(*) FROM prosecutor_accounts WHERE email = ?1")?,
        log_held: false,
    };
    if dry_run {
        return Ok(kept);
    }
    tx.execute(
        &format!(
            "INSERT INTO daily_case_views (day, views, viewers)
             SELECT date(at, '+8 hours'), count(*), 1 FROM case_views WHERE {OF}
             GROUP BY 1
             ON CONFLICT (day) DO UPDATE
             SET views = views + excluded.views, viewers = viewers + excluded.viewers"
        ),
        [email],
    )?;
    for table in ["tokens", "sessions", "case_views", "calendar_feeds"] {
        tx.execute(&format!("DELETE FROM {table} WHERE {OF}"), [email])?;
    }
    tx.execute("DELETE FROM accounts WHERE email = ?1", [email])?;
    tx.execute("DELETE FROM flagged_addresses WHERE email = ?1", [email])?;
    // (both switches off: the MOJ gives the address back at the next
    // sign-in, and the prosecutor then turns on what they want)
    tx.execute(
        "UPDATE prosecutor_accounts SET email = NULL, digests = 0, reminders = 0 WHERE email = ?1",
        [email],
    )?;
    tx.commit()?;
    let log_held = !schemas::checkpoint_log(conn);
    Ok(Kept { log_held, ..kept })
}

/// Deletes the link tokens (activation, reset) that expired before
/// `expired_before`, used or not: long dead, each was still a record of an
/// account's resets and of activations never taken up. Returns how many.
pub fn purge_tokens(conn: &Connection, expired_before: DateTime<Utc>) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM tokens WHERE expires_at < ?1",
        [expired_before.to_rfc3339()],
    )
}

/// Flags an address: mail to it failed for good (a 5xx reply, or a
/// delivery report that came back later). Later mail to it is suppressed
/// until a clerk grants it a case again (`unflag`).
pub fn flag(
    conn: &Connection,
    email: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO flagged_addresses (email, flagged_at, reason) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![email, now.to_rfc3339(), reason])?;
    Ok(())
}

/// An address's flag, if it has one: when (RFC 3339) and why.
pub fn flag_of(conn: &Connection, email: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT flagged_at, reason FROM flagged_addresses WHERE email = ?1")?
        .query_row([email], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Clears an address's flag (a new grant, an administrator retrying, or
/// its owner on the account page).
pub fn unflag(conn: &Connection, email: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM flagged_addresses WHERE email = ?1")?
        .execute([email])?;
    Ok(())
}

/// Of `emails`, those with an account that has no password yet (never
/// activated). An address with no account (a prosecutor's, known by the
/// single sign-on) is not among them. One look-up by address each.
pub fn not_activated<'a>(
    conn: &Connection,
    emails: impl IntoIterator<Item = &'a str>,
) -> rusqlite::Result<std::collections::BTreeSet<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT password_hash IS NULL FROM accounts WHERE email = ?1")?;
    let mut out = std::collections::BTreeSet::new();
    for email in emails {
        if out.contains(email) {
            continue;
        }
        let none: Option<bool> = stmt.query_row([email], |r| r.get(0)).optional()?;
        if none == Some(true) {
            out.insert(email.to_string());
        }
    }
    Ok(out)
}

/// The addresses that have turned a mailing off, each with which: a
/// mailing is off for an address when it has an account, of either kind,
/// and none of its accounts has that switch on (an address no account
/// holds yet gets its mail). `send` reads them once a run, and again when
/// the accounts database has changed (at most every half minute), so that
/// an unsubscribe made after a digest or reminder was queued holds: one
/// pass over the accounts (a national table is about a million rows), not
/// a look-up per message.
pub fn mailings_off(
    conn: &Connection,
) -> rusqlite::Result<std::collections::HashMap<String, Mailings>> {
    let mut st = conn.prepare(
        "SELECT email, max(d) = 0, max(r) = 0 FROM (
             SELECT email, digests AS d, reminders AS r FROM accounts
              WHERE digests = 0 OR reminders = 0
                 OR email IN (SELECT email FROM prosecutor_accounts WHERE email IS NOT NULL)
             UNION ALL
             SELECT email, digests, reminders FROM prosecutor_accounts WHERE email IS NOT NULL)
         GROUP BY email HAVING max(d) = 0 OR max(r) = 0",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Mailings {
                digests_off: r.get(1)?,
                reminders_off: r.get(2)?,
            },
        ))
    })?;
    rows.collect()
}

/// Which mailings an address has turned off ([`mailings_off`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailings {
    pub digests_off: bool,
    pub reminders_off: bool,
}

impl Mailings {
    pub fn off(self, mailing: Mailing) -> bool {
        match mailing {
            Mailing::Digests => self.digests_off,
            Mailing::Reminders => self.reminders_off,
        }
    }
}

/// The flagged addresses.
pub fn flagged_set(conn: &Connection) -> rusqlite::Result<std::collections::BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT email FROM flagged_addresses")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Every flagged address with when and why, by address.
pub fn flagged_addresses(
    conn: &Connection,
) -> rusqlite::Result<std::collections::BTreeMap<String, (String, String)>> {
    let mut stmt =
        conn.prepare("SELECT email, flagged_at, reason FROM flagged_addresses ORDER BY email")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
    rows.collect()
}
