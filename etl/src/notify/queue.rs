//! From a diff to outbox items: who gets which mail tonight.
//!
//! - A new grant: an activation link when the address has no activated
//!   account, else an approval notice. A new grant clears a bounce flag.
//! - News on cases an address already followed: one digest per address,
//!   not on a first load, not after an unsubscribe, held by the flood guard.
//! - A followed case about to stop being queryable: one warning per
//!   (address, case), ever.
//!
//! The outbox key (night, address, kind) makes every step idempotent. An
//! activation token is committed to the accounts database before its mail
//! is queued: a crash in between leaves an unsent token that expires, and
//! the re-run, finding no mail, makes a new one.
//!
//! Messages are rendered in parallel, a chunk at a time, while the queueing
//! thread inserts the chunk before (a national night is about 80,000 messages and
//! 480 MB); the night's items, warnings and hold go in one transaction.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc;
use std::time::SystemTime;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rayon::prelude::*;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::diff::{CaseNews, Changes, Expiring, Granted};
use mail::outbox::addresses;
use mail::render::{self, CaseView, Kind, View};
use mail::{message_id, url_encode, window_opening, MailSettings};
use schemas::date::taipei;
use schemas::date::{compact, roc, to_int};
use store::secret;

/// What a night's queueing did, for the report and the summary.
#[derive(Debug, Default, Clone, Serialize)]
pub struct QueueSummary {
    pub activation: u64,
    pub approval: u64,
    pub digest: u64,
    pub expiry: u64,
    /// Items already in the outbox from an earlier run of this night.
    pub already_queued: u64,
    /// Digests not queued because the address unsubscribed.
    pub unsubscribed: u64,
    /// Items kept but not sent: the address is flagged (it bounced).
    pub suppressed: u64,
    /// Digests were held by the flood guard (see `held_reason`).
    pub held: bool,
    pub held_reason: Option<String>,
    /// Why no digests were considered at all (first load, older night).
    pub no_digests: Option<String>,
    pub followed_cases: u64,
    pub cases_with_news: u64,
    /// Addresses the mail library refused to write to.
    pub invalid_addresses: Vec<String>,
}

/// Messages rendered at a time, in parallel, while the chunk before is
/// inserted.
const RENDER_CHUNK: usize = 1024;

/// One item to insert.
struct NewItem {
    email: String,
    kind: Kind,
    state: &'static str,
    message_id: String,
    subject: String,
    message: Vec<u8>,
    cases: usize,
}

/// A mail to render: who, what about. Its view is built where it is
/// rendered, in parallel.
struct Job<'a> {
    email: &'a str,
    kind: Kind,
    state: &'static str,
    about: About<'a>,
    /// An activation's link, and until when it works (ROC).
    activation: Option<(String, String)>,
}

/// The cases a mail is about.
enum About<'a> {
    Grants(&'a [Granted]),
    News(&'a [CaseNews]),
    Expiring(Vec<&'a Expiring>),
}

impl About<'_> {
    fn views(&self) -> Vec<CaseView> {
        match self {
            About::Grants(granted) => granted
                .iter()
                .map(|g| {
                    let mut v = CaseView::new(&g.case);
                    v.role = Some(g.role.clone());
                    g.entries
                        .iter()
                        .fold(v, |v, e| v.entry(e.posted, &e.text, false))
                })
                .collect(),
            About::News(news) => news
                .iter()
                .map(|n| {
                    n.entries.iter().fold(CaseView::new(&n.case), |v, e| {
                        v.entry(e.entry.posted, &e.entry.text, e.revised)
                    })
                })
                .collect(),
            About::Expiring(expiring) => expiring
                .iter()
                .map(|x| {
                    let mut v = CaseView::new(&x.case);
                    v.last_day = Some(roc(x.last_day));
                    v
                })
                .collect(),
        }
    }
}

/// Queues tonight's mail. `first_load`: there was no previous snapshot.
/// `older`: the new snapshot is older than the previous one (an import with
/// --force of an old night): its differences are history, not news.
pub fn queue(
    data_dir: &Path,
    cfg: &MailSettings,
    night: NaiveDate,
    changes: &Changes,
    first_load: bool,
    older: bool,
    now: DateTime<Utc>,
) -> Result<QueueSummary, String> {
    let mut summary = QueueSummary {
        followed_cases: changes.followed_cases,
        cases_with_news: changes.cases_with_news,
        ..QueueSummary::default()
    };
    if older {
        summary.no_digests =
            Some("the night is older than the snapshot it replaced: nothing is new".into());
        return Ok(summary);
    }
    let from = &cfg.from;
    let key = secret::load_or_create_key(data_dir).map_err(|e| format!("secret key: {e}"))?;
    let mut accounts = store::accounts::open(data_dir).map_err(|e| e.to_string())?;
    let mut outbox = mail::outbox::open(data_dir).map_err(|e| e.to_string())?;
    let sql = |e: rusqlite::Error| e.to_string();
    let night_text = compact(night);

    let existing: BTreeSet<(String, String)> = {
        let mut stmt = outbox
            .prepare("SELECT email, kind FROM items WHERE night = ?1")
            .map_err(sql)?;
        let rows = stmt
            .query_map([&night_text], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)?
    };
    let has = |email: &str, kind: Kind| {
        existing.contains(&(email.to_string(), kind.as_str().to_string()))
    };
    let site = cfg.site_url.as_str();
    let base_view = |email: &str, cases: Vec<CaseView>| View {
        subject: String::new(),
        email: email.to_string(),
        cases,
        link: format!("{site}/login"),
        expires: String::new(),
        night: roc(night),
        unsubscribe: format!(
            "{site}/unsubscribe?email={}&token={}",
            url_encode(email),
            secret::unsubscribe_token(&key, email)
        ),
        more: 0,
    };
    let mut jobs: Vec<Job> = Vec::new();

    let now_text = now.to_rfc3339();
    // New grants. Accounts first: flags cleared, rows and tokens committed.
    {
        let tx = accounts.transaction().map_err(sql)?;
        for (email, granted) in &changes.new_grants {
            tx.prepare_cached("DELETE FROM flagged_addresses WHERE email = ?1")
                .and_then(|mut st| st.execute([email]))
                .map_err(sql)?;
            if has(email, Kind::Activation) || has(email, Kind::Approval) {
                summary.already_queued += 1;
                continue;
            }
            let account: Option<(i64, bool)> = tx
                .prepare_cached(
                    "SELECT id, password_hash IS NOT NULL FROM accounts WHERE email = ?1",
                )
                .and_then(|mut st| {
                    st.query_row([email], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(sql)?;
            let mut activation = None;
            let kind = match account {
                Some((_, true)) => Kind::Approval,
                _ => {
                    let id = match account {
                        Some((id, _)) => id,
                        None => {
                            tx.prepare_cached(
                                "INSERT INTO accounts (email, created_at) VALUES (?1, ?2)",
                            )
                            .and_then(|mut st| st.execute(params![email, now_text]))
                            .map_err(sql)?;
                            tx.last_insert_rowid()
                        }
                    };
                    let (token, hash) = secret::new_token().map_err(|e| e.to_string())?;
                    let expires = now + cfg.activation;
                    tx.prepare_cached(
                        "INSERT INTO tokens (hash, account_id, purpose, created_at, expires_at)
                         VALUES (?1, ?2, 'activate', ?3, ?4)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![hash, id, now_text, expires.to_rfc3339()])
                    })
                    .map_err(sql)?;
                    activation = Some((
                        format!("{site}/activate?token={token}"),
                        roc(expires.with_timezone(&taipei()).date_naive()),
                    ));
                    Kind::Activation
                }
            };
            jobs.push(Job {
                email,
                kind,
                state: "queued",
                about: About::Grants(granted),
                activation,
            });
        }
        tx.commit().map_err(sql)?;
    }

    let flagged = addresses(&accounts, "SELECT email FROM flagged_addresses")?;
    let unsubscribed = addresses(&accounts, "SELECT email FROM accounts WHERE digests = 0")?;

    // Digests.
    if first_load {
        summary.no_digests = Some("first load: no previous snapshot to compare with".into());
    } else {
        let share = if changes.followed_cases == 0 {
            0.0
        } else {
            changes.cases_with_news as f64 / changes.followed_cases as f64
        };
        if share > cfg.flood_share && changes.followed_cases >= cfg.flood_min_cases {
            summary.held = true;
            summary.held_reason = Some(format!(
                "news on {} of {} followed cases ({:.1}%), more than {:.0}%: digests held until `cpor-etl outbox release {}`",
                changes.cases_with_news,
                changes.followed_cases,
                share * 100.0,
                cfg.flood_share * 100.0,
                night_text
            ));
        }
        for (email, news) in &changes.news {
            if has(email, Kind::Digest) {
                summary.already_queued += 1;
                continue;
            }
            if unsubscribed.contains(email) {
                summary.unsubscribed += 1;
                continue;
            }
            jobs.push(Job {
                email,
                kind: Kind::Digest,
                state: if summary.held { "held" } else { "queued" },
                about: About::News(news),
                activation: None,
            });
        }
    }

    // Expiry warnings, once per (address, case, last day).
    let warned: BTreeSet<(String, String, i64)> = {
        let mut stmt = outbox
            .prepare("SELECT email, case_key, last_day FROM expiry_warned")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)?
    };
    let mut warn_rows: Vec<(String, String, i64)> = Vec::new();
    for (email, expiring) in &changes.expiring {
        if has(email, Kind::Expiry) {
            summary.already_queued += 1;
            continue;
        }
        let fresh: Vec<_> = expiring
            .iter()
            .filter(|x| !warned.contains(&(email.clone(), x.case.id(), to_int(x.last_day))))
            .collect();
        if fresh.is_empty() {
            continue;
        }
        warn_rows.extend(
            fresh
                .iter()
                .map(|x| (email.clone(), x.case.id(), to_int(x.last_day))),
        );
        jobs.push(Job {
            email,
            kind: Kind::Expiry,
            state: "queued",
            about: About::Expiring(fresh),
            activation: None,
        });
    }

    // Render in parallel; the order of `jobs` is fixed (by kind, then address).
    jobs.sort_by(|a, b| (a.kind, a.email).cmp(&(b.kind, b.email)));
    let date = SystemTime::from(now);
    let render_one = |job: Job| -> Result<NewItem, (String, String)> {
        let mut view = base_view(job.email, job.about.views());
        if let Some((link, expires)) = job.activation {
            view.link = link;
            view.expires = expires;
        }
        let grants = matches!(job.kind, Kind::Activation | Kind::Approval);
        let keep_entries = !grants || view.cases.len() <= render::ENTRIES_UP_TO;
        view.trim(keep_entries);
        view.subject = render::subject(job.kind, &view.cases);
        let id = message_id(night, job.email, job.kind, from);
        match render::render(job.kind, &view, from, &id, date) {
            Ok(r) => Ok(NewItem {
                cases: view.cases.len(),
                email: job.email.to_string(),
                kind: job.kind,
                state: job.state,
                message_id: id,
                subject: r.subject,
                message: r.message,
            }),
            Err(e) => Err((job.email.to_string(), e)),
        }
    };

    let opening = window_opening(now, cfg.window.start, cfg.window.end);
    let n = jobs.len().max(1) as i64;
    let spread = cfg.spread.num_seconds();
    let queued_at = now.to_rfc3339();
    let tx = outbox.transaction().map_err(sql)?;
    // Rendered in parallel, a chunk at a time, while this thread inserts the
    // chunk before: the messages never all sit in memory at once.
    std::thread::scope(|scope| -> Result<(), String> {
        let (chunks_tx, chunks) = mpsc::sync_channel::<Vec<Result<NewItem, (String, String)>>>(2);
        scope.spawn(move || {
            let mut jobs = jobs.into_iter();
            loop {
                let chunk: Vec<Job> = jobs.by_ref().take(RENDER_CHUNK).collect();
                if chunk.is_empty() {
                    break;
                }
                let rendered = chunk.into_par_iter().map(render_one).collect();
                if chunks_tx.send(rendered).is_err() {
                    break; // the writer failed
                }
            }
        });
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO items (night, email, kind, state, message_id, subject, message, cases,
                 queued_at, not_before) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(sql)?;
        for (i, item) in chunks.into_iter().flatten().enumerate() {
            let item = match item {
                Ok(item) => item,
                Err((email, e)) => {
                    summary.invalid_addresses.push(format!("{email}: {e}"));
                    continue;
                }
            };
            let state = if flagged.contains(&item.email)
                && item.kind != Kind::Activation
                && item.kind != Kind::Approval
            {
                summary.suppressed += 1;
                "suppressed"
            } else {
                item.state
            };
            let not_before = opening + Duration::seconds(spread * i as i64 / n);
            let added = insert
                .execute(params![
                    night_text,
                    item.email,
                    item.kind.as_str(),
                    state,
                    item.message_id,
                    item.subject,
                    item.message,
                    item.cases as i64,
                    queued_at,
                    not_before.to_rfc3339()
                ])
                .map_err(sql)?;
            if added == 1 {
                match item.kind {
                    Kind::Activation => summary.activation += 1,
                    Kind::Approval => summary.approval += 1,
                    Kind::Digest => summary.digest += 1,
                    Kind::Expiry => summary.expiry += 1,
                }
            }
        }
        Ok(())
    })?;
    {
        let mut warn = tx
            .prepare("INSERT OR IGNORE INTO expiry_warned (email, case_key, last_day, night) VALUES (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        for (email, case, day) in warn_rows {
            warn.execute(params![email, case, day, night_text])
                .map_err(sql)?;
        }
        if let Some(reason) = &summary.held_reason {
            tx.execute(
                "INSERT OR IGNORE INTO held_nights (night, reason, held_at) VALUES (?1, ?2, ?3)",
                params![night_text, reason, now.to_rfc3339()],
            )
            .map_err(sql)?;
        }
    }
    tx.commit().map_err(sql)?;
    Ok(summary)
}
