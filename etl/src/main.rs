//! `cpor-etl`: parse the command line, run one command, exit with its code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use etl::commands;
// (one that never panics: `etl::commands` says why)
use etl::config::Config;
use etl::eprintln;
use etl::import::{self, exit, ImportOptions};
use settings::Layers;
use store::layout::Store;

/// mimalloc instead of the system allocator: a night's court workers
/// allocate and free millions of small strings and lists across threads,
/// which glibc's malloc serves with more CPU and memory (docs/BENCHMARKS.md,
/// seventh measurement).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0  published (import); done (other commands)
  1  usage or internal error; the batch directory or the data directory does not
     exist, or the batch directory is a file or not named YYYYMMDD; or the batch is older
     than the live snapshot, or dated after today; or (import) the night was published
     but its mail was not queued (MAIL NOT QUEUED: the next import or send queues it)
     or its report could not be written; forget-address: the live snapshot grants
     the address (nothing deleted)
  2  nothing published: the batch is incomplete (no MANIFEST.csv yet) or unusable,
     or a court could be neither imported nor carried over (--publish-without)
  3  published, but some courts were not imported tonight (carried over or unusable)
  4  case: no such case in the snapshot; outbox show, retry, release, rediff, forget:
     no such item or night, or nothing to do (retry: nothing to queue again;
     release: nothing held); forget-address without --vacuum: nothing is kept of
     the address
  5  another import, rollback or send's catch-up holds the import lock (import
     waits up to import.lock_wait_seconds first; rollback, outbox forget,
     rediff, release and forget-address do not wait: run again when it is done);
     send: another send is running; forget-address: a send is delivering its
     mail; nothing changed
  6  send: mail was due and none of it could be delivered (the summary says
     why): the relay unreachable: it waits to be retried, at once with send
     --now; every message refused for a reason that flags no one (e.g. 5.7.1
     relay access denied): failed, sent again only by outbox retry --failed
  7  import: published, but the flood guard held the night's digests (DIGESTS
     HELD): release them (outbox release) or leave them before the next night's
     import, which gives them up; before 3 if both";

/// An import stopped (SIGTERM, Ctrl-C, a closed terminal) ends at once, as
/// a kill would: the next run removes what it left, and queues the mail of
/// a night it published. First it says which of those it was, since a
/// silent exit left the operator guessing (a publish under way finishes
/// first, so that what is said holds).
fn say_when_stopped(opts: &ImportOptions, store: &Store) -> anyhow::Result<()> {
    let stop = etl::stop::Stop::install()?;
    let progress = opts.progress.clone();
    let batch = opts.batch_dir.file_name().map_or_else(
        || opts.batch_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let store = store.clone();
    stop.on_signal(move |name, code| {
        let stage = progress.lock();
        let what = match &*stage {
            import::Stage::Building => format!(
                ": nothing published; the live snapshot is still {}",
                match store.live() {
                    Ok(Some(live)) => live.name(),
                    Ok(None) => "none".into(),
                    Err(e) => format!("unknown ({e})"),
                }
            ),
            import::Stage::Published(s) => {
                format!(" after publishing {s}; the next import or send queues its mail")
            }
            import::Stage::Queued(s) => {
                format!(" after publishing {s}; nothing of it is left to queue")
            }
        };
        eprintln!("cpor-etl import {batch}: stopped by {name}{what}");
        std::process::exit(code);
    });
    Ok(())
}

/// A day as the other commands take it (YYYYMMDD), or as YYYY-MM-DD.
fn a_day(s: &str) -> Result<chrono::NaiveDate, String> {
    schemas::date::parse_day_arg(s)
        .ok_or_else(|| format!("`{s}` is not a day: YYYYMMDD (or YYYY-MM-DD)"))
}

/// `--version`: the crate's version and the commit it was built from
/// (`scripts/build-commit.rs`), so an operator can tell builds apart.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CPOR_BUILD_COMMIT"),
    ")"
);

/// Nightly import of the courts' case-progress export into a published SQLite
/// snapshot, and the administrators' commands around it.
#[derive(Parser)]
#[command(name = "cpor-etl", version = VERSION, after_help = EXIT_CODES)]
struct Cli {
    /// Data directory [default: ./data; env CPOR_DATA_DIR; config `data_dir`]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file [default: ./cpor.toml if present; env CPOR_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import one batch (a directory named YYYYMMDD) and publish its snapshot
    #[command(after_help = EXIT_CODES)]
    Import {
        /// The batch directory, e.g. inbox/20261124 (or `.` inside it)
        #[arg(value_parser = batch_arg)]
        batch_dir: PathBuf,
        /// Import even if the batch is older than the live snapshot (its news is not mailed), or
        /// dated after today (Asia/Taipei)
        #[arg(long)]
        force: bool,
        /// Worker threads (0 = one per core) [config import.threads]
        #[arg(long)]
        threads: Option<usize>,
        /// Rejected share above which a court is unusable [config import.reject_share]
        #[arg(long)]
        reject_share: Option<f64>,
        /// Rejected rows a court needs at least to be unusable [config import.reject_floor]
        #[arg(long)]
        reject_floor: Option<u64>,
        /// Snapshots (nights) to keep [config import.keep_snapshots]
        #[arg(long)]
        keep: Option<u64>,
        /// Import this court even though it has far fewer cases or grants
        /// than the night before (it is carried over otherwise; config
        /// import.shrink_share, import.shrink_floor); repeatable
        #[arg(long, value_name = "COURT", value_parser = court_arg)]
        accept_shrink: Vec<String>,
        /// Publish the night without this court when it can be neither
        /// imported nor carried over (the live snapshot damaged, no other
        /// verifying): its cases and grants leave the site until it is
        /// imported again, and its grants are then mailed as new. Nothing
        /// is published otherwise (exit 2); repeatable
        #[arg(long, value_name = "COURT", value_parser = court_arg)]
        publish_without: Vec<String>,
        /// Check the batch as tonight's import would: the same summary and
        /// exit code, but nothing published and no mail queued; the report
        /// as reports/<night>.check.json
        #[arg(long)]
        check: bool,
    },
    /// Print one case of the live (or a kept) snapshot as JSON; exit 4 if absent
    #[command(after_help = EXIT_CODES)]
    Case {
        /// Court code, e.g. TPD
        #[arg(value_parser = court_arg)]
        court: String,
        /// 民事, 刑事, 家事 or 行政
        category: String,
        /// The case number as written (115年度訴字第100號), or its year, word and
        /// number (115 訴 100, or 115年度 訴字 第100號); leading zeros do not matter
        #[arg(num_args = 1..=3, required = true, value_name = "CASE_NUMBER")]
        number: Vec<String>,
        /// Read the kept snapshot of this date (YYYYMMDD or YYYY-MM-DD) instead of the live one
        #[arg(long, value_parser = night_arg)]
        date: Option<String>,
    },
    /// Print every case of the live (or a kept) snapshot as JSON lines
    #[command(after_help = EXIT_CODES)]
    Dump {
        /// Read the kept snapshot of this date (YYYYMMDD or YYYY-MM-DD) instead of the live one
        #[arg(long, value_parser = night_arg)]
        date: Option<String>,
    },
    /// List kept snapshots: date, live or not, size, cases, entries; exit 1 if the live one is unusable
    #[command(after_help = EXIT_CODES)]
    Snapshots {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Point CURRENT at a kept snapshot (its newest build of that date)
    #[command(after_help = EXIT_CODES)]
    Rollback {
        /// Date of the snapshot, YYYYMMDD (or YYYY-MM-DD)
        #[arg(value_parser = night_arg)]
        date: String,
    },
    /// Deliver the e-mail that is due (SMTP, or .eml files when no relay is configured);
    /// exit 5 if another send is running
    #[command(after_help = EXIT_CODES)]
    Send {
        /// Send now: ignore the send window, the spread of a night's mail and the
        /// wait before a retry (each item is still tried once a run)
        #[arg(long)]
        now: bool,
        /// Queue the hearing reminders of this Asia/Taipei day (YYYYMMDD or YYYY-MM-DD)
        /// instead of today's: catching up yesterday, missed (with --now,
        /// at once: what is not sent by the end of today is failed); a
        /// hearing that has started is not named. Only today or yesterday
        /// without --force
        #[arg(long, value_name = "YYYYMMDD", value_parser = a_day)]
        today: Option<chrono::NaiveDate>,
        /// With --today: any day, as if it were that day's window opening,
        /// hearings held since included (trying the sample data,
        /// scripts/run-sample)
        #[arg(long, requires = "today")]
        force: bool,
        /// With no relay configured, write .eml files even though this data
        /// directory's mail went through a relay before (refused otherwise:
        /// files are marked sent, and a forgotten --config would lose the mail)
        #[arg(long)]
        to_files: bool,
    },
    /// Read delivery reports (bounces) from a Maildir: fail their items, flag their addresses
    #[command(after_help = EXIT_CODES)]
    Bounces {
        /// The Maildir the bounce address's mail is delivered to (reads new/, files them in cur/)
        maildir: PathBuf,
        /// Read cur/ again as well (after changing mail.bounce_address, say)
        #[arg(long)]
        all: bool,
    },
    /// Delete what cpor keeps of an address no live grant names: its account, links,
    /// sessions, case views and feed, its mail's records and text, the warnings and reminders
    /// it was given, its bounce flag; refused while the live snapshot grants it; exit 4 if
    /// nothing is kept of it
    #[command(after_help = EXIT_CODES)]
    ForgetAddress {
        /// The address (compared as the import stores it: trimmed, lower-cased)
        email: String,
        /// Say what would be deleted, and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Then rebuild both databases (VACUUM), so that no copy of the address left in free
        /// space by earlier writes remains in the files: minutes on a national outbox, which
        /// it holds meanwhile (stop the send timer; not in the send window)
        #[arg(long, conflicts_with = "dry_run")]
        vacuum: bool,
    },
    /// Inspect and manage the e-mail outbox
    #[command(after_help = EXIT_CODES)]
    Outbox {
        #[command(subcommand)]
        action: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List items: id, night, kind, state, attempts, next try, address, subject
    #[command(after_help = EXIT_CODES)]
    List {
        /// Only this night (YYYYMMDD or YYYY-MM-DD)
        #[arg(long, value_parser = night_arg)]
        night: Option<String>,
        /// Only this state: queued, held, sending, sent, retrying, failed, unknown, suppressed
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one item with its whole message
    #[command(after_help = EXIT_CODES)]
    Show {
        /// The item's id, as `outbox list` shows it
        id: i64,
        /// The message as sent (RFC 2047 headers, base64 parts), not as its reader reads it
        #[arg(long)]
        raw: bool,
    },
    /// Release a night's digests held by the flood guard or a rollback (refused once a later night's mail told a rollback's); exit 4 if it has none held
    #[command(after_help = EXIT_CODES)]
    Release {
        /// The night, YYYYMMDD (or YYYY-MM-DD)
        #[arg(value_parser = night_arg)]
        night: String,
    },
    /// Queue an item (or every failed one) again; clears the address's bounce flag; one
    /// whose cases a later night's mail told (`outbox show`: `told by`) is not, and that
    /// mail is queued in its place if it did not go; exit 4 if nothing is queued again
    #[command(after_help = EXIT_CODES)]
    Retry {
        /// The item's id, as `outbox list` shows it (a failed, unknown, retrying or suppressed one)
        #[arg(conflicts_with = "failed")]
        id: Option<i64>,
        /// Every failed item but those to flagged addresses (listed, left failed and flagged;
        /// retry one by its id to write to its address again) and the website's password
        /// links (good for minutes)
        #[arg(long)]
        failed: bool,
        /// Say what would be queued again and what left, and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List the nights whose mail is not queued yet (an import that died, a damaged snapshot)
    #[command(after_help = EXIT_CODES)]
    Pending,
    /// Queue a pending night's mail by comparing it with another kept snapshot
    #[command(after_help = EXIT_CODES)]
    Rediff {
        /// The night: its date (YYYYMMDD or YYYY-MM-DD) or its snapshot, as `outbox pending`
        /// names it
        #[arg(value_parser = night_or_name)]
        snapshot: String,
        /// The kept snapshot to compare with, by date (its newest build) or name (news since it
        /// may repeat), or `none`: as a first load; never the night itself
        #[arg(long, value_parser = night_or_name)]
        from: String,
        /// Say what the night's mail would be, compared so, and change nothing (takes no lock,
        /// so it never turns the nightly import away)
        #[arg(long)]
        dry_run: bool,
    },
    /// Give a pending night up: its news is never mailed (say so to the courts)
    #[command(after_help = EXIT_CODES)]
    Forget {
        /// The night: its date (YYYYMMDD or YYYY-MM-DD) or its snapshot, as `outbox pending`
        /// names it
        #[arg(value_parser = night_or_name)]
        snapshot: String,
        /// Say what would never be mailed (the night's mail, compared as recorded), and change
        /// nothing (takes no lock, so it never turns the nightly import away)
        #[arg(long)]
        dry_run: bool,
    },
}

/// A night as the outbox names it: its batch's date, YYYYMMDD.
fn night_arg(s: &str) -> Result<String, String> {
    schemas::date::parse_day_arg(s)
        .map(schemas::date::compact)
        .ok_or_else(|| {
            format!("`{s}` is not a night: say its date as YYYYMMDD (or YYYY-MM-DD), e.g. 20261124")
        })
}

/// A court's code as the contract lists it, in either case (made upper
/// case): a typo is refused before anything is read, not taken for a
/// court the night did not need.
fn court_arg(s: &str) -> Result<String, String> {
    let code = s.trim().to_ascii_uppercase();
    match schemas::contract().court(&code) {
        Some(_) => Ok(code),
        None => Err(format!(
            "{code} is not a court's code (e.g. TPD; the contract's list of courts)"
        )),
    }
}

/// A batch's directory as given; `.` or `..` (an import run from inside
/// the batch or below it), which has no name of its own, as the directory
/// it stands for, so that its name can be read as the night's date.
fn batch_arg(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    Ok(match path.file_name() {
        None => path.canonicalize().unwrap_or(path),
        Some(_) => path,
    })
}

/// A night or a kept snapshot as `outbox rediff` and `forget` take one: a
/// date (either way, made YYYYMMDD) or anything else as it is (a
/// snapshot's name, `none`), which the command answers.
fn night_or_name(s: &str) -> Result<String, String> {
    Ok(schemas::date::parse_day_arg(s).map_or_else(|| s.to_string(), schemas::date::compact))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CPOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let text = said(&e);
            eprintln!("cpor-etl: {text}");
            if text.contains("database is locked") {
                // (cpor's own processes wait for each other; this is another
                // program: the admin review of the fifty-second session)
                eprintln!(
                    "cpor-etl: another program holds a database of the data directory in a \
                     transaction (an sqlite3 shell, a backup tool): find it with `fuser \
                     outbox.sqlite accounts.sqlite` there, end it, and run this again \
                     (docs/OPERATIONS.md, \"held by another program\")"
                );
            }
            exit::ERROR
        }
    };
    ExitCode::from(code as u8)
}

/// An error and its causes, as `{:#}` says them (`a: b: c`), but a cause
/// the one before already ends with, after its own `: `, is not said again
/// (an error that shows its source's message, as `outbox: database or
/// disk is full`, then that source: `database or disk is full`).
fn said(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !last.is_empty() && (last == text || last.ends_with(&format!(": {text}"))) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        last = text;
    }
    out
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    // Every setting is read and checked here, before any work: a bad value
    // stops the run with its key, value and source.
    let mut layers = Layers::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        layers.flag("data_dir", "--data-dir", dir.display().to_string());
    }
    if let Command::Import {
        threads,
        reject_share,
        reject_floor,
        keep,
        ..
    } = &cli.command
    {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(n) = threads {
            layers.flag("import.threads", "--threads", count(*n as u64));
        }
        if let Some(share) = reject_share {
            layers.flag("import.reject_share", "--reject-share", *share);
        }
        if let Some(n) = reject_floor {
            layers.flag("import.reject_floor", "--reject-floor", count(*n));
        }
        if let Some(n) = keep {
            layers.flag("import.keep_snapshots", "--keep", count(*n));
        }
    }
    let config = Config::load(&layers)?;
    // Only an import makes the data directory; any other command on one
    // that does not exist (a check too) is a mistyped path, not an empty
    // service.
    if !matches!(cli.command, Command::Import { check: false, .. }) && !config.data_dir.is_dir() {
        anyhow::bail!(
            "data directory {} does not exist (--data-dir, CPOR_DATA_DIR or config data_dir); \
             `cpor-etl import` creates it",
            config.data_dir.display()
        );
    }
    let store = Store::new(&config.data_dir);
    match cli.command {
        Command::Import {
            batch_dir,
            force,
            accept_shrink,
            publish_without,
            check,
            ..
        } => {
            let threads = config.import.threads as usize;
            let opts = ImportOptions {
                batch_dir,
                force,
                accept_shrink: accept_shrink.into_iter().collect(),
                publish_without: publish_without.into_iter().collect(),
                progress: Default::default(),
                check,
            };
            say_when_stopped(&opts, &store)?;
            match import::run(&config, &opts, threads) {
                Ok(run) => {
                    // (a reader gone away, `import … | head`, hides no
                    // exit code behind a panic: the night is published)
                    let summary = run.report.summary(&run.report_path.display().to_string());
                    let _ = commands::print(&summary);
                    Ok(run.report.exit_code)
                }
                Err(e) => {
                    eprintln!("cpor-etl: {e}");
                    Ok(e.exit_code())
                }
            }
        }
        Command::Case {
            court,
            category,
            number,
            date,
        } => commands::case::run(
            &store,
            &commands::case::Args {
                court,
                category,
                number,
                date,
            },
        ),
        Command::Dump { date } => commands::dump::run(&store, date.as_deref()),
        Command::Snapshots { json } => commands::snapshots::run(&store, json),
        Command::Rollback { date } => commands::rollback::run(&store, &date),
        Command::Send {
            now,
            today,
            force,
            to_files,
        } => {
            let mut config = config;
            config.mail.files_after_relay = to_files;
            commands::send::run(&config, now, today, force)
        }
        Command::Outbox { action } => commands::outbox::run(
            &config,
            match action {
                OutboxCommand::List { night, state } => {
                    commands::outbox::Action::List { night, state }
                }
                OutboxCommand::Show { id, raw } => commands::outbox::Action::Show { id, raw },
                OutboxCommand::Release { night } => commands::outbox::Action::Release { night },
                OutboxCommand::Retry {
                    id,
                    failed,
                    dry_run,
                } => commands::outbox::Action::Retry {
                    id,
                    failed,
                    dry_run,
                },
                OutboxCommand::Pending => commands::outbox::Action::Pending,
                OutboxCommand::Rediff {
                    snapshot,
                    from,
                    dry_run,
                } => commands::outbox::Action::Rediff {
                    snapshot,
                    from,
                    dry_run,
                },
                OutboxCommand::Forget { snapshot, dry_run } => {
                    commands::outbox::Action::Forget { snapshot, dry_run }
                }
            },
        ),
        Command::Bounces { maildir, all } => commands::bounces::run(&config, &maildir, all),
        Command::ForgetAddress {
            email,
            dry_run,
            vacuum,
        } => commands::forget::run(&store, &email, dry_run, vacuum),
    }
}

#[cfg(test)]
mod tests {
    use super::said;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct E {
        text: &'static str,
        #[source]
        source: Option<Box<E>>,
    }

    fn chain(texts: &[&'static str]) -> anyhow::Error {
        let mut e: Option<Box<E>> = None;
        for text in texts.iter().rev() {
            e = Some(Box::new(E { text, source: e }));
        }
        anyhow::Error::new(*e.unwrap())
    }

    /// A cause the error before already says after its `: ` is left out;
    /// one that only ends the same way is kept.
    #[test]
    fn a_cause_is_said_once_and_only_a_repeat_is_left_out() {
        let e = chain(&[
            "send stopped part-way (…)",
            "outbox: database or disk is full",
            "database or disk is full",
            "Error code 13: Insertion failed because database is full",
        ]);
        assert_eq!(
            said(&e),
            "send stopped part-way (…): outbox: database or disk is full: \
             Error code 13: Insertion failed because database is full"
        );
        let e = chain(&["the batch has a bad line 1", "1", "full", "disk full"]);
        assert_eq!(said(&e), "the batch has a bad line 1: 1: full: disk full");
    }
}
