//! `cpor-server stats`: what the original service published about its
//! use (site visits, applications, people who looked at their cases), per
//! day and per month: visits, accounts activated, grants approved (by
//! approval date, as the nights' imports saw them: kept once their cases
//! leave the snapshot), case views and the accounts that
//! viewed; and, apart, prosecutors' single sign-on sign-ins and their case
//! views (applicants' columns never count a prosecutor).

use std::collections::BTreeMap;
use std::fmt::Write;

use rusqlite::Connection;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub visits: u64,
    pub activated: u64,
    pub grants: u64,
    pub views: u64,
    pub viewers: u64,
    /// Prosecutors' sign-ins (web and app) and case views.
    pub p_sign_ins: u64,
    pub p_views: u64,
}

/// Per day (YYYY-MM-DD), every column by the Asia/Taipei day: visits are
/// counted by it, and stored times (UTC, RFC 3339) are moved to it (Taiwan
/// has no daylight saving time, so always 8 hours).
pub fn daily(
    accounts: &Connection,
    grants_per_day: &[(i64, u64)],
) -> rusqlite::Result<BTreeMap<String, Row>> {
    let mut days: BTreeMap<String, Row> = BTreeMap::new();
    let mut q = |sql: &str, set: &dyn Fn(&mut Row, u64)| -> rusqlite::Result<()> {
        let mut st = accounts.prepare(sql)?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (day, n) = row?;
            set(days.entry(day).or_default(), n);
        }
        Ok(())
    };
    q("SELECT day, visits FROM daily_visits", &|r, n| r.visits = n)?;
    q(
        "SELECT date(activated_at, '+8 hours'), count(*) FROM accounts WHERE activated_at IS NOT NULL GROUP BY 1",
        &|r, n| r.activated = n,
    )?;
    q(
        "SELECT date(at, '+8 hours'), count(*) FROM case_views GROUP BY 1",
        &|r, n| r.views = n,
    )?;
    q(
        "SELECT date(at, '+8 hours'), count(DISTINCT account_id) FROM case_views GROUP BY 1",
        &|r, n| r.viewers = n,
    )?;
    // Days whose views were purged (retention) keep their counts.
    q("SELECT day, views FROM daily_case_views", &|r, n| {
        r.views += n
    })?;
    q("SELECT day, viewers FROM daily_case_views", &|r, n| {
        r.viewers += n
    })?;
    q(
        "SELECT date(at, '+8 hours'), count(*) FROM prosecutor_sign_ins GROUP BY 1",
        &|r, n| r.p_sign_ins = n,
    )?;
    q(
        "SELECT date(at, '+8 hours'), count(*) FROM prosecutor_case_views GROUP BY 1",
        &|r, n| r.p_views = n,
    )?;
    // (purged days keep their counts, as applicants' views do)
    q(
        "SELECT day, sign_ins FROM daily_prosecutor_activity",
        &|r, n| r.p_sign_ins += n,
    )?;
    q(
        "SELECT day, views FROM daily_prosecutor_activity",
        &|r, n| r.p_views += n,
    )?;
    // Grants by the day a clerk approved them: what the nights' imports
    // recorded (kept once later snapshots drop a grant: its case past its
    // last day, or revoked), or, where more, what the live snapshot holds
    // (days before the imports recorded them).
    q(
        "SELECT day, max(grants) FROM daily_grants GROUP BY day",
        &|r, n| r.grants = n,
    )?;
    for (day, n) in grants_per_day {
        let d = format!("{:04}-{:02}-{:02}", day / 10000, day / 100 % 100, day % 100);
        let row = days.entry(d).or_default();
        row.grants = row.grants.max(*n);
    }
    Ok(days)
}

/// Sums days into months (YYYY-MM). Viewers are summed per day, so a
/// month's figure counts person-days, as the original's 人次 did.
pub fn monthly(days: &BTreeMap<String, Row>) -> BTreeMap<String, Row> {
    let mut months: BTreeMap<String, Row> = BTreeMap::new();
    for (day, r) in days {
        let m = months.entry(day[..7].to_string()).or_default();
        m.visits += r.visits;
        m.activated += r.activated;
        m.grants += r.grants;
        m.views += r.views;
        m.viewers += r.viewers;
        m.p_sign_ins += r.p_sign_ins;
        m.p_views += r.p_views;
    }
    months
}

pub fn table(title: &str, rows: &BTreeMap<String, Row>) -> String {
    let mut out = format!("{title}\n");
    let line = |out: &mut String, k: &str, r: &Row| {
        let _ = writeln!(
            out,
            "{k:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            r.visits, r.activated, r.grants, r.views, r.viewers, r.p_sign_ins, r.p_views
        );
    };
    let _ = writeln!(
        out,
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "", "visits", "activated", "grants", "views", "viewers", "p.sign-ins", "p.views"
    );
    let mut total = Row::default();
    for (k, r) in rows {
        line(&mut out, k, r);
        total.visits += r.visits;
        total.activated += r.activated;
        total.grants += r.grants;
        total.views += r.views;
        total.viewers += r.viewers;
        total.p_sign_ins += r.p_sign_ins;
        total.p_views += r.p_views;
    }
    line(&mut out, "total", &total);
    out
}
