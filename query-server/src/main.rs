//! `cpor-server`: serve the website and API, or print usage statistics.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use std::io::Write as _;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use query_server::app::App;
use query_server::config::Config;
use query_server::{live, stats};
use settings::Layers;

/// `--version`: the crate's version and the commit it was built from
/// (`scripts/build-commit.rs`), so an operator can tell builds apart.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CPOR_BUILD_COMMIT"),
    ")"
);

/// The website and JSON API of cpor, over the live snapshot.
#[derive(Parser)]
#[command(name = "cpor-server", version = VERSION)]
struct Cli {
    /// Data directory [default: ./data; env CPOR_DATA_DIR; config `data_dir`]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file [default: ./cpor.toml if present; env CPOR_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080; env CPOR_SERVER_LISTEN; config `server.listen`]
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (the default)
    Serve,
    /// Print site visits, activated accounts, grants, case views and prosecutors' sign-ins and views, per day and per month
    Stats,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CPOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or journal gets no escapes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // (a reader gone from standard error loses the message, and
            // the exit is still 1: `eprintln!` panicked, exit 101)
            let _ = writeln!(std::io::stderr(), "cpor-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    // A usage error exits 1, as `cpor-etl`'s: 2 is the exit table's
    // "nothing published" (clap's own is 2).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    // Every setting is read and checked here, before the socket opens: a bad
    // value stops the server with its key, value and source.
    let mut layers = Layers::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        layers.flag("data_dir", "--data-dir", d.display().to_string());
    }
    if let Some(l) = &cli.listen {
        layers.flag("server.listen", "--listen", l.clone());
    }
    let config = Config::load(&layers)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Stats => print_stats(&config),
    }
}

fn serve(config: Config) -> Result<()> {
    let addr = config.server.listen;
    // The threads that accept connections and answer requests run a
    // little below the password checks of known users
    // (server.request_threads_nice), which are the one long computation a
    // person waits for during a flood.
    let nice = config.server.request_threads_nice;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || {
            if nice > 0 {
                query_server::password::lower_this_thread(nice);
            }
        })
        .build()?;
    runtime.block_on(async move {
        let reuse_port = config.server.reuse_port;
        let listener = query_server::server::listen(addr, reuse_port).map_err(|e| {
            let what = match (e.kind(), reuse_port) {
                (std::io::ErrorKind::AddrInUse, false) => {
                    "; another process serves this address: stop it, or give this one \
                     another (--listen, server.listen). Several processes of one data \
                     directory share one address only with server.reuse_port = true in each"
                }
                (std::io::ErrorKind::AddrInUse, true) => {
                    "; another process serves this address without server.reuse_port = true \
                     (or as another user): it cannot be shared with it"
                }
                _ => "",
            };
            anyhow::anyhow!("listening on {addr}: {e}{what}")
        })?;
        // The address bound: with port 0, the one the system chose.
        let addr = listener.local_addr()?;
        let app = App::open(config)?;
        app.poll_snapshot();
        match app.live.get() {
            Some(s) => tracing::info!("cpor-server on http://{addr}, snapshot {}", s.name),
            None => tracing::warn!(
                "cpor-server on http://{addr}, but no snapshot is published yet ({}/CURRENT); waiting for one",
                app.data_dir.display()
            ),
        }
        warn_if_few_files(app.cfg.server.max_connections);
        // The harness reads this line to learn the port (with --listen 127.0.0.1:0).
        // (a standard output gone away is no reason to stop serving)
        let _ = writeln!(std::io::stdout(), "listening on http://{addr}");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("SIGTERM handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
        };
        // On a worker thread, not this one: block_on's future runs on the
        // process's main thread, at the known users' priority, and the
        // accept loop is where a flood of new connections is refused.
        tokio::spawn(query_server::server::serve(
            Arc::clone(&app),
            listener,
            shutdown,
        ))
        .await?;
        // The requests are answered; the background work's last batch goes
        // too: records written, "forgot password" links made and mailed.
        let drain = app.cfg.server.drain;
        tokio::task::spawn_blocking(move || app.finish(drain)).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Each connection takes a file; with fewer files than connections
/// allowed, accepting fails for everyone before the cap refuses anyone.
fn warn_if_few_files(max_connections: usize) {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line["Max open files".len()..]
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        });
    if let Some(soft) = soft {
        if soft < max_connections + 256 {
            tracing::warn!(
                "the open-file limit ({soft}) is below server.max_connections ({max_connections}) + 256: raise it (LimitNOFILE in the systemd unit, ulimit -n) or lower max_connections"
            );
        }
    }
}

fn print_stats(config: &Config) -> Result<()> {
    let accounts = store::accounts::open(&config.data_dir)?;
    let live = live::Live::new(&config.data_dir);
    live.refresh();
    let grants = match live.get() {
        Some(s) => s.grants_per_day()?,
        None => Vec::new(),
    };
    let days = stats::daily(&accounts, &grants)?;
    let text = format!(
        "{}\n{}",
        stats::table("per day", &days),
        stats::table("per month", &stats::monthly(&days))
    );
    // A reader gone away (`cpor-server stats | head`) is not worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
