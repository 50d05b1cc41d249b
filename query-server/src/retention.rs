//! Personal data the website keeps only for a while (docs/OPERATIONS.md,
//! "Personal data"): case views (who looked at which case, when), an
//! applicant's or a prosecutor's, and prosecutors' sign-ins, for
//! `server.keep_case_views_days`, their daily counts for ever (what
//! `cpor-server stats` reports); link tokens for 30 days after they
//! expired (`DEAD_LINKS_KEPT`); the bodies of sent mail (activation and
//! reset links included) for `server.keep_sent_mail_days`. Run at
//! start-up and then daily by the sweeper, on connections of its own.

use chrono::{DateTime, Duration, Utc};

use crate::app::App;

/// One pass: purges what is older than the settings keep.
pub fn run(app: &App, now: DateTime<Utc>) {
    let keep = app.cfg.server.keep_case_views;
    // Whole days only, so a day's counts are made once from all its views.
    let before = (now - keep)
        .with_timezone(&schemas::date::taipei())
        .format("%Y-%m-%d")
        .to_string();
    let purged = store::accounts::open(&app.data_dir)
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            store::accounts::purge_case_views(&mut conn, &before).map_err(|e| e.to_string())
        });
    match purged {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!("retention: {n} case views before {before} deleted (daily counts kept)")
        }
        Err(e) => tracing::error!("retention: purging case views: {e}"),
    }
    // A prosecutor's views and sign-ins as an applicant's views; link
    // tokens 30 days after they expired (used or not: long dead).
    let purged = store::accounts::open(&app.data_dir)
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            let activity = store::accounts::prosecutors::purge_activity(&mut conn, &before)
                .map_err(|e| e.to_string())?;
            let tokens = store::accounts::purge_tokens(&conn, now - DEAD_LINKS_KEPT)
                .map_err(|e| e.to_string())?;
            Ok((activity, tokens))
        });
    match purged {
        Ok((0, 0)) => {}
        Ok((activity, tokens)) => tracing::info!(
            "retention: {activity} prosecutors' case views and sign-ins before {before} deleted \
             (daily counts kept); {tokens} links expired over {} days ago deleted",
            DEAD_LINKS_KEPT.num_days()
        ),
        Err(e) => tracing::error!("retention: purging prosecutors' activity and dead links: {e}"),
    }
    purge_sent_mail_bodies(app, now - app.cfg.server.keep_sent_mail);
}

/// The outbox keeps each sent message whole, activation and reset links
/// included; after `keep_sent_mail_days` only its record (who, what kind,
/// when, the outcome) stays; so too of mail queued that long ago that
/// failed or was suppressed. The outbox is the mail crate's: its own
/// operation does it, on a connection of this pass's own.
fn purge_sent_mail_bodies(app: &App, older_than: DateTime<Utc>) {
    let purged = mail::outbox::Outbox::open(&app.data_dir)
        .and_then(|outbox| outbox.purge_sent_bodies(older_than));
    match purged {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "retention: the bodies of {n} mails sent, or queued and never sent, before {} emptied (their records kept)",
            older_than.format("%Y-%m-%d")
        ),
        Err(e) => tracing::error!("retention: purging sent mail bodies: {e}"),
    }
}

/// How long a link token is kept after it expired (used or not).
pub const DEAD_LINKS_KEPT: Duration = Duration::days(30);

/// How often the sweeper runs `run`.
pub const EVERY: Duration = Duration::days(1);
