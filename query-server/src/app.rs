//! The server's state, shared by every request, and its background work:
//! following CURRENT, writing records in batches, making "forgot password"
//! links, delivering the website's mail, sweeping expired sessions,
//! captchas and counters, and retention (`retention`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::Connection;

use crate::config::{Config, Maintenance};
use mail::send::send_website;

use crate::captcha::{Captchas, SqliteAllowance, SqliteUsedSet};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::password::{Hashers, Pepper};
use crate::prosecutors::ProsecutorSessions;
use crate::server::Conns;
use crate::sessions::Sessions;
use crate::sso::Sso;
use crate::throttle::Throttle;
use store::accounts::{write_records, Record};

pub struct App {
    pub cfg: Config,
    pub data_dir: PathBuf,
    /// `mail.site_url` is https: cookies are Secure and `__Host-` named.
    pub https: bool,
    pub live: Live,
    /// The accounts database, for the request paths that write (login,
    /// passwords, unsubscribe). Reads of sessions come from memory.
    pub accounts: Mutex<Connection>,
    pub outbox: Mutex<Connection>,
    /// The outbox again, for hearings' calendar files alone (the floors
    /// they are lifted to, `routes::hearings::case_hearing`), not behind
    /// the lock the web mail holds while it writes: `.0` reads a UID's
    /// floor (every file), `.1` records a file lifted above it (rare), so
    /// a request waiting for the outbox's write lock holds up only those.
    pub calendar_floors: (Mutex<Connection>, Mutex<Connection>),
    pub sessions: Sessions,
    /// Prosecutors' sessions (single sign-on), a store of their own.
    pub prosecutors: ProsecutorSessions,
    /// The MOJ single sign-on, when `[sso] issuer` is set.
    pub sso: Option<Arc<Sso>>,
    pub captchas: Captchas,
    pub throttle: Throttle,
    pub metrics: Metrics,
    /// The data directory's key (unsubscribe links).
    pub key: Vec<u8>,
    pub maintenance: Maintenance,
    /// What every page says of the settings, made once.
    pub words: Arc<crate::pages::Words>,
    /// The argon2 threads (memory: 19 MiB each, kept and reused).
    pub hashers: Hashers,
    /// Connections open, in all and per client address.
    pub conns: Arc<Conns>,
    /// The records writer: `None` once `finish` closed it.
    records: Mutex<Option<Sender<Record>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Addresses handed to the link mailer and not yet handled.
    links_pending: AtomicUsize,
    mail: Mutex<Sender<()>>,
    /// Addresses "forgot password" was asked for, to the link mailer.
    links: Mutex<Sender<(String, Instant)>>,
}

/// Why the server could not start on its data directory. The text is the
/// whole story (it names the file), as `cpor-server` prints it.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: {error}")]
    DataDir { path: String, error: std::io::Error },
    /// The accounts or outbox database.
    #[error("{0}")]
    Database(schemas::MigrateError),
    #[error("{0}")]
    Outbox(mail::outbox::OutboxError),
    #[error("sessions, captchas or counters: {0}")]
    Sessions(rusqlite::Error),
    #[error("secret key: {0}")]
    Key(std::io::Error),
    #[error("password pepper (server.pepper_file): {0}")]
    Pepper(std::io::Error),
    #[error("sso: {0}")]
    Sso(String),
}

impl App {
    /// Opens everything; refuses settings that must not be used.
    pub fn open(cfg: Config) -> Result<Arc<App>, OpenError> {
        let data_dir = cfg.data_dir.clone();
        store::layout::create_private_dir(&data_dir).map_err(|error| OpenError::DataDir {
            path: data_dir.display().to_string(),
            error,
        })?;
        if let Some(fixed) = &cfg.server.fixed_captcha {
            tracing::warn!("server.fixed_captcha is on: every captcha is {fixed} (tests only)");
        }
        let maintenance = cfg.server.maintenance;
        let accounts = store::accounts::open(&data_dir).map_err(OpenError::Database)?;
        let outbox = mail::outbox::open(&data_dir).map_err(OpenError::Outbox)?;
        let floors_read = mail::outbox::open(&data_dir).map_err(OpenError::Outbox)?;
        let floors_write = mail::outbox::open(&data_dir).map_err(OpenError::Outbox)?;
        // A file lifted above its floor is recorded before it is served;
        // while an import or `send` holds the outbox's write lock, that
        // request answers 503 after a second instead of the usual 10 s.
        // (Reads never wait: the outbox is in WAL mode.)
        floors_write
            .busy_timeout(std::time::Duration::from_secs(1))
            .map_err(|e| OpenError::Outbox(e.into()))?;
        let records_conn = store::accounts::open(&data_dir).map_err(OpenError::Database)?;
        let links_conns = (
            store::accounts::open(&data_dir).map_err(OpenError::Database)?,
            mail::outbox::open(&data_dir).map_err(OpenError::Outbox)?,
        );
        // Every piece of state another process on this data directory must
        // see lives in the accounts database, each on a connection of its
        // own: sessions, used captchas, throttle counters.
        let own = || store::accounts::open(&data_dir).map_err(OpenError::Database);
        let sessions = Sessions::load(
            &accounts,
            own()?,
            cfg.server.session_idle,
            cfg.server.session_max,
        )
        .map_err(OpenError::Sessions)?;
        let prosecutors = ProsecutorSessions::load(
            &accounts,
            own()?,
            cfg.server.session_idle,
            cfg.server.session_max,
        )
        .map_err(OpenError::Sessions)?;
        let used = SqliteUsedSet::new(own()?).map_err(OpenError::Sessions)?;
        let allowance =
            SqliteAllowance::new(own()?, cfg.server.captcha_limit).map_err(OpenError::Sessions)?;
        let throttle = Throttle::new(
            own()?,
            cfg.server.account_failures_per_hour,
            cfg.server.slow_after,
            cfg.server.ip_failures_per_hour,
        )
        .map_err(OpenError::Sessions)?
        .with_device_failures(cfg.server.device_failures_per_hour);
        let key = store::secret::load_or_create_key(&data_dir).map_err(OpenError::Key)?;
        let pepper_file = cfg
            .server
            .pepper_file
            .clone()
            .unwrap_or_else(|| data_dir.join("pepper.key"));
        let pepper = Pepper::load_or_create(&pepper_file).map_err(OpenError::Pepper)?;
        let sso = match &cfg.sso {
            Some(settings) => Some(Arc::new(
                Sso::new(settings.clone(), &key)
                    .map_err(OpenError::Sso)?
                    .with_shared_flows(own()?),
            )),
            None => None,
        };
        let (records_tx, records_rx) = mpsc::channel();
        let (mail_tx, mail_rx) = mpsc::channel();
        let (links_tx, links_rx) = mpsc::channel();
        let app = Arc::new(App {
            https: cfg.mail.https(),
            live: Live::new(&data_dir),
            accounts: Mutex::new(accounts),
            outbox: Mutex::new(outbox),
            calendar_floors: (Mutex::new(floors_read), Mutex::new(floors_write)),
            sessions,
            prosecutors,
            sso,
            captchas: Captchas::new(
                &key,
                cfg.server.captcha_ttl,
                cfg.server.fixed_captcha.clone(),
                Box::new(used),
            )
            .with_allowance(Box::new(allowance)),
            throttle,
            metrics: Metrics::default(),
            key,
            maintenance,
            words: Arc::new(crate::pages::Words::new(&cfg.server)),
            hashers: Hashers::start(cfg.server.hashing_threads, cfg.server.hashing_queue, pepper),
            conns: Arc::new(
                Conns::new(
                    cfg.server.max_connections,
                    Some(cfg.server.max_connections_per_ip),
                    // Behind a proxy every connection comes from the proxy.
                    if cfg.server.trust_proxy {
                        cfg.server.trusted_proxies.clone()
                    } else {
                        crate::config::Networks::default()
                    },
                )
                .with_rate(cfg.server.new_connections_per_ip),
            ),
            records: Mutex::new(Some(records_tx)),
            writer: Mutex::new(None),
            links_pending: AtomicUsize::new(0),
            mail: Mutex::new(mail_tx),
            links: Mutex::new(links_tx),
            data_dir,
            cfg,
        });
        app.live.refresh();
        if let Some(sso) = &app.sso {
            // Discovers the provider now (a failure is logged and retried
            // at the first sign-in), then every discovery_refresh_seconds.
            sso.spawn_refresher();
        }
        *app.writer.lock().expect("writer") = Some(spawn_writer(records_conn, records_rx));
        spawn_mailer(Arc::clone(&app), mail_rx);
        spawn_link_mailer(Arc::clone(&app), links_conns, links_rx);
        spawn_sweeper(Arc::clone(&app));
        Ok(app)
    }

    /// Cookie names: `__Host-` prefixed over HTTPS.
    pub fn cookie_name(&self, base: &'static str) -> String {
        if self.https {
            format!("__Host-{base}")
        } else {
            base.to_string()
        }
    }

    /// Queues a record for the background writer.
    pub fn record(&self, r: Record) {
        if let Some(tx) = &*self.records.lock().expect("records") {
            let _ = tx.send(r);
        }
    }

    /// After the last request (SIGTERM): the records writer writes what it
    /// holds and stops; the link mailer handles the addresses it was
    /// given; the website mail they queued is delivered. Within `within`
    /// at most (what is left then is in the outbox, for another process or
    /// the next start). Claims in the outbox are exclusive, so this
    /// process's mailer thread running meanwhile sends nothing twice.
    pub fn finish(&self, within: Duration) {
        let until = Instant::now() + within;
        drop(self.records.lock().expect("records").take());
        if let Some(writer) = self.writer.lock().expect("writer").take() {
            let _ = writer.join();
        }
        while self.links_pending.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        match send_website(&self.data_dir, &self.cfg.mail, Utc::now()) {
            Ok(s) => log_website_mail("website mail at exit", &s),
            Err(e) => tracing::error!("website mail at exit: {e}"),
        }
    }

    /// Wakes the mailer: the website queued mail.
    pub fn mail_now(&self) {
        let _ = self.mail.lock().expect("mail").send(());
    }

    /// Hands an address to the link mailer ("forgot password").
    pub fn mail_link_to(&self, email: String) {
        self.links_pending.fetch_add(1, Ordering::SeqCst);
        let _ = self
            .links
            .lock()
            .expect("links")
            .send((email, Instant::now()));
    }

    /// Follows CURRENT (called by the poller).
    pub fn poll_snapshot(self: &Arc<App>) {
        let app = Arc::clone(self);
        let every = self.cfg.server.snapshot_poll;
        let check = self.cfg.server.snapshot_check;
        std::thread::Builder::new()
            .name("snapshot-poll".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                app.live.recheck(check);
                app.live.refresh();
            })
            .expect("thread");
    }
}

/// Case views, visits and session activity go to the database in batches:
/// a page view must not wait for an fsync.
fn spawn_writer(mut conn: Connection, rx: Receiver<Record>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("records".into())
        .spawn(move || {
            let mut batch = Vec::new();
            loop {
                // Sleep, then take what came: a sender never wakes this
                // thread (a blocked receiver would be woken per record).
                std::thread::sleep(Duration::from_millis(500));
                loop {
                    match rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) if batch.is_empty() => return,
                        Err(TryRecvError::Disconnected) => break,
                    }
                }
                if !batch.is_empty() {
                    if let Err(e) = write_records(&mut conn, &batch) {
                        tracing::error!("recording {} views/visits: {e}", batch.len());
                    }
                    batch.clear();
                }
            }
        })
        .expect("thread")
}

/// Delivers the website's mail at once when woken, and retries what is
/// due every 30 seconds.
fn spawn_mailer(app: Arc<App>, rx: Receiver<()>) {
    std::thread::Builder::new()
        .name("mailer".into())
        .spawn(move || loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {
                    while rx.try_recv().is_ok() {}
                    match send_website(&app.data_dir, &app.cfg.mail, Utc::now()) {
                        Ok(s) => log_website_mail("website mail", &s),
                        Err(e) => tracing::error!("website mail: {e}"),
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        })
        .expect("thread");
}

/// What a pass of the website's mailer did, in the log; an item whose
/// stored message could not be read (failed, never sent) as an error.
fn log_website_mail(what: &str, s: &mail::send::SendSummary) {
    if s.due > 0 {
        tracing::info!(
            "{what}: {} sent, {} to retry, {} failed",
            s.sent,
            s.retrying,
            s.failed
        );
    }
    for item in &s.unreadable {
        tracing::error!("{what}: {}", item.notice());
    }
}

/// "Forgot password" links, made and queued apart from every request:
/// its own thread, its own connections (see `auth::mail_link`), and each
/// address handled 0.5 to 2.5 s (at random) after it came, so that the
/// work, which only an address with an account causes, never coincides
/// with the requests that follow the answer.
fn spawn_link_mailer(
    app: Arc<App>,
    conns: (Connection, Connection),
    rx: Receiver<(String, Instant)>,
) {
    std::thread::Builder::new()
        .name("link-mailer".into())
        .spawn(move || {
            let (accounts, outbox) = conns;
            while let Ok((email, came)) = rx.recv() {
                let r = store::secret::random_bytes::<2>().map_or(0, u16::from_le_bytes);
                let delay = Duration::from_millis(500 + u64::from(r) % 2000);
                std::thread::sleep(delay.saturating_sub(came.elapsed()));
                crate::auth::mail_link(&app, &accounts, &outbox, &email);
                app.links_pending.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .expect("thread");
}

fn spawn_sweeper(app: Arc<App>) {
    std::thread::Builder::new()
        .name("sweeper".into())
        .spawn(move || {
            crate::retention::run(&app, Utc::now());
            let mut retained = Utc::now();
            loop {
                std::thread::sleep(Duration::from_secs(60));
                sweep(&app);
                if Utc::now() - retained >= crate::retention::EVERY {
                    retained = Utc::now();
                    crate::retention::run(&app, retained);
                }
            }
        })
        .expect("thread");
}

/// Forgets expired captchas, counters and sessions (every process sweeps
/// the shared tables; each sweep is one short DELETE, and a second one
/// finds nothing).
fn sweep(app: &App) {
    app.captchas.sweep();
    app.throttle.sweep(crate::throttle::now_ms());
    if let Err(e) = app.sessions.sweep(&app.accounts.lock().expect("accounts")) {
        tracing::error!("sweeping sessions: {e}");
    }
    if let Err(e) = app
        .prosecutors
        .sweep(&app.accounts.lock().expect("accounts"))
    {
        tracing::error!("sweeping prosecutors' sessions: {e}");
    }
}
