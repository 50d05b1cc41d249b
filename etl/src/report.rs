//! The import report: one JSON file per run (`<data>/reports/<date>.json`)
//! for machines and auditors, and a short summary for the person at the
//! terminal or reading cron's mail.

use std::fmt::Write as _;

use serde::Serialize;

use crate::court::CourtStats;
use crate::kinds::Reject;
use crate::snapshot::write::Counts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Published,
    PublishedWithCarryOver,
    NotPublished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CourtStatus {
    /// Tonight's files were imported.
    Imported,
    /// Tonight's files were missing or unusable; last known data kept.
    CarriedOver,
    /// Tonight's files were unusable and there was no earlier data.
    Unusable,
    /// Not a fact-finding court (or not in the contract): nothing is kept.
    OutOfScope,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// A check (`import --check`): what the night would do; nothing was
    /// published or queued. (Absent from a real run's report.)
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
    pub batch: String,
    pub batch_dir: String,
    pub started_at: String,
    pub finished_at: String,
    pub outcome: Outcome,
    pub exit_code: i32,
    /// Why nothing was published, when nothing was.
    pub message: Option<String>,
    pub snapshot: Option<String>,
    pub counts: Option<Counts>,
    /// The snapshot that was live before this run.
    pub previous: Option<String>,
    pub threads: usize,
    pub courts: Vec<CourtReport>,
    pub eudc_mappings: usize,
    /// The e-mail queued after publishing.
    pub mail: Option<crate::notify::queue::QueueSummary>,
    /// Why the mail could not be queued (the snapshot is published).
    pub mail_error: Option<String>,
    pub warnings: Vec<String>,
    pub timings_ms: Vec<Timing>,
}

#[derive(Debug, Serialize)]
pub struct Timing {
    pub stage: &'static str,
    pub ms: u64,
}

#[derive(Debug, Serialize)]
pub struct CourtReport {
    pub court: String,
    pub name: Option<String>,
    pub status: CourtStatus,
    /// Why the court was not imported tonight.
    pub reasons: Vec<String>,
    /// Export date of the data the snapshot holds for this court (ROC).
    pub as_of: Option<String>,
    /// Time spent on tonight's files: read, hash, decode, rules.
    pub parse_ms: Option<u64>,
    /// Counts from tonight's files, when they were read.
    pub stats: Option<CourtStats>,
    /// Rejected rows, in file order (at most `max_listed_rejects`).
    pub rejects: Vec<Reject>,
    pub rejects_not_listed: u64,
    /// Standing grants to an address no mail can reach, named as rejects
    /// are (the first `max_listed_rejects`; `stats.grants_unmailable`
    /// counts them all). Their grants are in the snapshot.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmailable: Vec<Reject>,
    /// For a carried-over court: what it holds after tonight's cutoff.
    pub carried: Option<CarriedStats>,
}

#[derive(Debug, Serialize)]
pub struct CarriedStats {
    pub cases: u64,
    pub cases_queryable: u64,
    /// Queryable yesterday, past the two-month cutoff tonight.
    pub expired_tonight: u64,
}

impl Report {
    /// A few lines for people: the outcome, a row per court, the first
    /// rejects, where the report is.
    pub fn summary(&self, report_path: &str) -> String {
        let mut s = String::new();
        let what = match (self.outcome, self.check) {
            (Outcome::Published, false) => "published",
            (Outcome::PublishedWithCarryOver, false) => {
                "published, with courts not imported tonight"
            }
            (Outcome::NotPublished, false) => "NOTHING PUBLISHED",
            (Outcome::Published, true) => "would publish",
            (Outcome::PublishedWithCarryOver, true) => {
                "would publish, with courts not imported tonight"
            }
            (Outcome::NotPublished, true) => "would publish NOTHING",
        };
        let _ = writeln!(
            s,
            "cpor-etl import {}{}: {what} (exit {})",
            self.batch,
            if self.check { " --check" } else { "" },
            self.exit_code
        );
        if let Some(m) = &self.message {
            let _ = writeln!(s, "  {m}");
        }
        if let Some(c) = &self.counts {
            let snap = match &self.snapshot {
                Some(snap) => format!("snapshot {snap}"),
                None => "the snapshot would have".to_string(),
            };
            let _ = writeln!(
                s,
                "  {snap}: {} courts, {} cases, {} entries, {} grants, {} prosecutor assignments",
                c.courts, c.cases, c.entries, c.grants, c.prosecutors
            );
        }
        if !self.courts.is_empty() {
            let _ = writeln!(
                s,
                "  {:<5} {:<12} {:>9} {:>8} {:>7} {:>9}  {:<9}  note",
                "court", "status", "rows", "rejected", "cases", "queryable", "as of"
            );
        }
        // A run that published nothing imported and carried over nothing:
        // its rows say which courts were usable, and no as-of date.
        let published = self.outcome != Outcome::NotPublished;
        for c in &self.courts {
            let status = match c.status {
                CourtStatus::Imported if published => "imported",
                CourtStatus::Imported => "usable",
                CourtStatus::CarriedOver if published => "CARRIED OVER",
                CourtStatus::CarriedOver | CourtStatus::Unusable => "UNUSABLE",
                CourtStatus::OutOfScope => "out of scope",
            };
            let (rows, rejected) = c.stats.as_ref().map_or(("-".into(), "-".into()), |st| {
                (st.rows_read.to_string(), st.rejected.to_string())
            });
            let (cases, queryable) = match (&c.stats, &c.carried, c.status) {
                (_, Some(k), _) if published => {
                    (k.cases.to_string(), k.cases_queryable.to_string())
                }
                (Some(st), None, CourtStatus::Imported) => (
                    (st.cases_queryable + st.cases_past_cutoff).to_string(),
                    st.cases_queryable.to_string(),
                ),
                _ => ("-".into(), "-".into()),
            };
            let note = c.reasons.first().cloned().unwrap_or_default();
            let unmapped = c.stats.as_ref().map_or(0, |st| st.udc_unmapped);
            let note = if unmapped > 0 && note.is_empty() {
                let s = if unmapped == 1 { "" } else { "s" };
                let codes = c.stats.as_ref().map(|st| st.udc_unmapped_codes.keys());
                let why = if codes.is_some_and(crate::decode::utf8_only) {
                    " (private-use characters of UTF-8 files: EUDC.csv maps CP950 codes only; \
                     the court must write the characters themselves)"
                } else if self.eudc_mappings == 0 {
                    " (the batch has no EUDC.csv mapping)"
                } else {
                    ""
                };
                format!("{unmapped} unmapped user-defined character{s}{why}")
            } else {
                note
            };
            let _ = writeln!(
                s,
                "  {:<5} {:<12} {:>9} {:>8} {:>7} {:>9}  {:<9}  {note}",
                c.court,
                status,
                rows,
                rejected,
                cases,
                queryable,
                c.as_of.as_deref().filter(|_| published).unwrap_or("-")
            );
        }
        let rejects: Vec<&Reject> = self.courts.iter().flat_map(|c| &c.rejects).collect();
        if !rejects.is_empty() {
            let total: u64 = self
                .courts
                .iter()
                .filter_map(|c| c.stats.as_ref())
                .map(|s| s.rejected)
                .sum();
            let _ = writeln!(s, "  rejected rows: {total}; the first ones:");
            for r in rejects.iter().take(5) {
                let _ = writeln!(s, "    {r}");
            }
        }
        let unmailable: Vec<&Reject> = self.courts.iter().flat_map(|c| &c.unmailable).collect();
        if !unmailable.is_empty() {
            let total: u64 = self
                .courts
                .iter()
                .filter(|c| matches!(c.status, CourtStatus::Imported))
                .filter_map(|c| c.stats.as_ref())
                .map(|s| s.grants_unmailable)
                .sum();
            let _ = writeln!(
                s,
                "  addresses no mail can reach: {total} (granted all the same; ask the court to correct them); the first ones:"
            );
            for r in unmailable.iter().take(5) {
                let _ = writeln!(s, "    {r}");
            }
        }
        if let Some(m) = &self.mail {
            for line in mail_lines(m, false) {
                let _ = writeln!(s, "  {line}");
            }
        }
        if let Some(e) = &self.mail_error {
            let _ = writeln!(s, "  MAIL NOT QUEUED: {e}");
        }

        for w in self.warnings.iter().take(5) {
            let _ = writeln!(s, "  warning: {w}");
        }
        let _ = writeln!(s, "  report: {report_path}");
        s
    }
}

/// What a night's mail gave up of earlier nights' held digests
/// (`QueueSummary::given_up`), a line each: said by the import that queued
/// it, or by the run that finished an interrupted night's mail.
pub fn given_up(m: &crate::notify::queue::QueueSummary) -> Vec<String> {
    let said = |(night, n): &(String, u64), by: &str, then: &str| {
        format!(
            "{n} digest{} of night {night}, {by} and not released, {} given up: {then}, so \
             they never go (their news is on the site; `cpor-etl outbox list --night {night}`)",
            if *n == 1 { "" } else { "s" },
            if *n == 1 { "is" } else { "are" },
        )
    };
    let flood = m.given_up.iter().map(|g| {
        said(
            g,
            "held by the flood guard",
            "the news after it is told from that night on",
        )
    });
    let rolled_back = m.given_up_rolled_back.iter().map(|g| {
        said(
            g,
            "held by a rollback",
            "this night's mail, made against the night rolled back to, tells what of it is still \
             true",
        )
    });
    flood.chain(rolled_back).collect()
}

/// What a night's mail summary says, a line each: as queued (the import),
/// or, `would`, as it would be queued (`cpor-etl outbox rediff --dry-run`
/// and `forget --dry-run`).
pub fn mail_lines(m: &crate::notify::queue::QueueSummary, would: bool) -> Vec<String> {
    let mut lines = vec![format!(
        "mail {}: {} activation, {} approval, {} digest, {} expiry{}{}{}",
        if would { "to queue" } else { "queued" },
        m.activation,
        m.approval,
        m.digest,
        m.expiry,
        if m.expiry_behind > 0 {
            format!(
                " ({} behind an activation or approval that says the last day: sent only if that is not)",
                m.expiry_behind
            )
        } else {
            String::new()
        },
        if m.not_named > 0 {
            format!(
                " ({} of the activations and approvals for grants the night's mail from its other builds does not name)",
                m.not_named
            )
        } else {
            String::new()
        },
        if m.already_queued > 0 {
            format!(" ({} already queued by an earlier run)", m.already_queued)
        } else {
            String::new()
        }
    )];
    if m.suppressed > 0 {
        lines.push(format!(
            "  {} of them to a flagged address, suppressed (`cpor-etl outbox list --state suppressed`)",
            m.suppressed
        ));
    }
    if m.told_elsewhere > 0 {
        lines.push(format!(
            "  {} activation{} or approval{} not queued: another night's mail names {} grants \
             (sent or still to go: a night rolled back past, or, compared with nothing, any)",
            m.told_elsewhere,
            if m.told_elsewhere == 1 { "" } else { "s" },
            if m.told_elsewhere == 1 { "" } else { "s" },
            if m.told_elsewhere == 1 {
                "its"
            } else {
                "their"
            },
        ));
    }
    if m.superseded > 0 {
        lines.push(format!(
            "  {} digests of the night, held by a rollback, superseded by this run's (they never go)",
            m.superseded
        ));
    }
    lines.extend(given_up(m));
    if m.withheld > 0 {
        lines.push(format!(
            "{} earlier grant mail{} not sent yet {}: {} a case tonight no longer grants \
             its address; {} still granted {} {} (`cpor-etl outbox list --state suppressed`)",
            m.withheld,
            if m.withheld == 1 { "" } else { "s" },
            if would { "to withhold" } else { "withheld" },
            if m.withheld == 1 {
                "it names"
            } else {
                "each names"
            },
            m.told_again,
            if m.told_again == 1 { "case" } else { "cases" },
            if would {
                "to tell again"
            } else {
                "told again tonight"
            },
        ));
    }
    if !m.invalid_addresses.is_empty() {
        // (each is "address: why"; the why is in the report)
        let shown: Vec<String> = m
            .invalid_addresses
            .iter()
            .take(3)
            .map(|a| format!("`{}`", a.split(": ").next().unwrap_or(a)))
            .collect();
        lines.push(format!(
            "  {} not {}: no mail can reach {} address: {}{} (the report's mail.invalid_addresses says why)",
            m.invalid_addresses.len(),
            if would { "to queue" } else { "queued" },
            if m.invalid_addresses.len() == 1 { "its" } else { "their" },
            shown.join(", "),
            if m.invalid_addresses.len() > 3 { ", …" } else { "" },
        ));
    }
    if let Some(why) = &m.no_digests {
        lines.push(format!("no digests: {why}"));
    }
    if let Some(why) = &m.held_reason {
        lines.push(format!(
            "DIGESTS {}: {why}",
            if would { "TO HOLD" } else { "HELD" }
        ));
    }
    lines
}
