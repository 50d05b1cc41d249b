//! Passwords: the policy a new one must meet, and argon2id hashing on a
//! fixed pool of hashing threads.
//!
//! The policy follows NIST SP 800-63B: 12 to 128 characters (Unicode code
//! points, after NFKC normalisation, so the same password typed on another
//! keyboard or IME still matches), never truncated, not on the bundled list
//! of common passwords, not the account's own address, and no rules about
//! which kinds of characters to use. `strength` is the estimate the pages
//! show (the same formula as `static/password.js`, which shows it while
//! typing); it refuses nothing.
//!
//! Hashes are argon2id PHC strings with m = 19 MiB, t = 2, p = 1 (OWASP's
//! baseline). Verification is the costly part of a login; an unknown
//! account is verified against a dummy hash, so it costs the same time.
//!
//! What argon2 hashes is HMAC-SHA256 of the normalised password under the
//! pepper, a key kept in its own file outside the database
//! (`server.pepper_file`): a copy of accounts.sqlite without that file
//! cannot be attacked offline. The PHC string names the pepper by a
//! `keyid`; a hash without one was made before the pepper and still
//! verifies, and is replaced at the next successful login.
//!
//! Memory: each hash needs 19 MiB of blocks. Every hashing thread keeps
//! its own blocks and reuses them, so hashing takes threads × 19 MiB
//! however many hashes run. (On the blocking pool each hash allocated its
//! blocks afresh, and glibc kept them in the arena of every thread that
//! ever hashed: 850 MiB through 1,000 hashes.)
//!
//! Jobs queue in two lanes (`Lane`), each bounded (`server.hashing_queue`):
//! the site's known users and strangers. One thread alone takes known
//! users' jobs first. With two threads or more, one takes known users'
//! jobs only, and the others strangers' only, at the lowest CPU priority
//! (nice 19): under credential stuffing they keep a core busy, and a known
//! user's hash, and every request, still get the CPU first. The known
//! users' thread also takes a stranger's job that waits alone, at most
//! every 250 ms (`HELP_EVERY`): a new browser's login during a flood of
//! other requests is not left at nice 19. A stranger's
//! login past the bound is refused at once (429), not queued for seconds.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, KeyId, Params, ParamsBuilder, Version};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// argon2id memory cost in KiB (19 MiB) and passes.
pub const M_COST: u32 = 19 * 1024;
pub const T_COST: u32 = 2;

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_lowercase)
            .collect()
    })
}

/// How many passwords the bundled list holds.
pub fn common_count() -> usize {
    common().len()
}

/// Normalises a password as it is stored and checked: NFKC.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// Why a new password is refused, in the words the page shows.
pub fn check_new(password: &str, email: &str) -> Result<(), &'static str> {
    let p = normalise(password);
    let n = p.chars().count();
    if n < MIN_CHARS {
        return Err("密碼至少需要 12 個字元。");
    }
    if n > MAX_CHARS {
        return Err("密碼最多 128 個字元。");
    }
    let lower = p.to_lowercase();
    if common().contains(&lower) {
        return Err("這個密碼太常見，很容易被猜中，請換一個。");
    }
    if !email.is_empty() && lower == email.to_lowercase() {
        return Err("密碼不能與電子郵件信箱相同。");
    }
    Ok(())
}

/// How strong a password looks, as the pages say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    TooShort,
    Common,
    Weak,
    Fair,
    Strong,
    VeryStrong,
}

impl Strength {
    pub fn label(self) -> &'static str {
        match self {
            Strength::TooShort => "太短",
            Strength::Common => "太常見",
            Strength::Weak => "弱",
            Strength::Fair => "普通",
            Strength::Strong => "強",
            Strength::VeryStrong => "很強",
        }
    }
}

/// A rough estimate of the bits a guesser must cover: each new character
/// is worth log2 of the alphabet it seems drawn from, a repeated one a
/// single bit. The same formula as `static/password.js`, which shows it
/// while typing; the server says it again with a refusal.
pub fn strength(password: &str, email: &str) -> Strength {
    let p = normalise(password);
    let n = p.chars().count();
    if n < MIN_CHARS {
        return Strength::TooShort;
    }
    let lower = p.to_lowercase();
    if common().contains(&lower) || (!email.is_empty() && lower == email.to_lowercase()) {
        return Strength::Common;
    }
    let mut alphabet = 0u32;
    let has = |f: fn(char) -> bool| p.chars().any(f);
    if has(|c| c.is_ascii_digit()) {
        alphabet += 10;
    }
    if has(|c| c.is_ascii_lowercase()) {
        alphabet += 26;
    }
    if has(|c| c.is_ascii_uppercase()) {
        alphabet += 26;
    }
    if has(|c| c.is_ascii() && !c.is_ascii_alphanumeric()) {
        alphabet += 33;
    }
    if has(|c| !c.is_ascii()) {
        alphabet += 3000;
    }
    let per = f64::from(alphabet.max(2)).log2();
    let mut seen = HashSet::new();
    let bits: f64 = p
        .chars()
        .map(|c| if seen.insert(c) { per } else { 1.0 })
        .sum();
    match bits {
        b if b < 40.0 => Strength::Weak,
        b if b < 60.0 => Strength::Fair,
        b if b < 80.0 => Strength::Strong,
        _ => Strength::VeryStrong,
    }
}

/// The pepper: a key outside the database, mixed into every new hash.
pub struct Pepper {
    key: Vec<u8>,
    /// What PHC strings call it: the first 6 bytes of its SHA-256.
    id: [u8; 6],
}

impl Pepper {
    pub fn new(key: Vec<u8>) -> Pepper {
        let digest = Sha256::digest(&key);
        let mut id = [0u8; 6];
        id.copy_from_slice(&digest[..6]);
        Pepper { key, id }
    }

    /// The pepper in `path`, created (32 random bytes, hex, mode 0600)
    /// if missing.
    pub fn load_or_create(path: &Path) -> std::io::Result<Pepper> {
        store::secret::load_or_create_key_at(path).map(Pepper::new)
    }

    /// What argon2 hashes: HMAC-SHA256(pepper, NFKC(password)).
    fn mix(&self, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(normalise(password).as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    Right,
    /// Right, but the hash is of an older kind (no pepper, other costs):
    /// hash the password again.
    RightOutdated,
}

impl Verdict {
    pub fn right(self) -> bool {
        self != Verdict::Wrong
    }
}

/// One hashing thread's state: its blocks, reused by every hash it runs.
pub struct Hasher {
    blocks: Vec<Block>,
    pepper: Arc<Pepper>,
    dummy: Arc<OnceLock<String>>,
}

fn params(pepper: &Pepper) -> Params {
    ParamsBuilder::new()
        .m_cost(M_COST)
        .t_cost(T_COST)
        .p_cost(1)
        .keyid(KeyId::new(&pepper.id).expect("a 6-byte key id"))
        .build()
        .expect("valid argon2 parameters")
}

impl Hasher {
    pub fn new(pepper: Pepper) -> Hasher {
        Hasher::with(Arc::new(pepper), Arc::new(OnceLock::new()))
    }

    fn with(pepper: Arc<Pepper>, dummy: Arc<OnceLock<String>>) -> Hasher {
        Hasher {
            blocks: vec![Block::default(); M_COST as usize],
            pepper,
            dummy,
        }
    }

    /// Hashes a (new) password.
    pub fn hash(&mut self, password: &str) -> String {
        let salt_bytes = store::secret::random_bytes::<16>().expect("randomness");
        let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt");
        let params = params(&self.pepper);
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let input = self.pepper.mix(password);
        let blocks = &mut self.blocks;
        let output = Output::init_with(32, |out| {
            argon
                .hash_password_into_with_memory(&input, &salt_bytes, out, &mut blocks[..])
                .map_err(Into::into)
        })
        .expect("argon2 hashing");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: (&params).try_into().expect("PHC parameters"),
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string()
    }

    /// Checks a password against a stored hash (or, for an unknown
    /// account, the dummy hash: same cost, always wrong).
    pub fn verify(&mut self, password: &str, stored: Option<&str>) -> Verdict {
        let real = stored.is_some();
        let phc = match stored {
            Some(h) => h.to_string(),
            None => self.dummy(),
        };
        let right = self.check(password, &phc);
        match right {
            Some(current) if real && current => Verdict::Right,
            Some(_) if real => Verdict::RightOutdated,
            _ => Verdict::Wrong,
        }
    }

    /// `Some(current kind)` when the password is right for `phc`.
    fn check(&mut self, password: &str, phc: &str) -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let params = Params::try_from(&parsed).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::V0x10,
        };
        let expected = parsed.hash?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let peppered = !params.keyid().is_empty();
        let input: Vec<u8> = if peppered {
            if params.keyid() != self.pepper.id {
                tracing::error!("a password hash names another pepper than server.pepper_file's");
                return None;
            }
            self.pepper.mix(password).to_vec()
        } else {
            normalise(password).into_bytes()
        };
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        let done =
            argon.hash_password_into_with_memory(&input, salt, &mut out, &mut self.blocks[..]);
        if self.blocks.len() > M_COST as usize {
            // A costlier old hash: give the extra memory back.
            self.blocks.truncate(M_COST as usize);
            self.blocks.shrink_to_fit();
        }
        done.ok()?;
        if !bool::from(out.ct_eq(expected.as_bytes())) {
            return None;
        }
        let current = peppered
            && algorithm == Algorithm::Argon2id
            && params.m_cost() == M_COST
            && params.t_cost() == T_COST
            && params.p_cost() == 1;
        Some(current)
    }

    /// A hash of a random password, made once per pool.
    fn dummy(&mut self) -> String {
        if let Some(d) = self.dummy.get() {
            return d.clone();
        }
        let d = self.hash(&schemas::hex(
            &store::secret::random_bytes::<16>().expect("randomness"),
        ));
        self.dummy.get_or_init(|| d).clone()
    }
}

type Job = Box<dyn FnOnce(&mut Hasher) + Send>;

/// Whose hashing job it is. A flood of strangers' logins (credential
/// stuffing) must not make the site's own users wait: with two threads or
/// more one thread takes theirs only, so a known user's login never waits
/// for a stranger's hash to finish (one thread alone takes theirs first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// A browser that signed in to the account before (a valid device
    /// cookie), a signed-in user, a link already checked.
    Known,
    /// Anyone else: an anonymous login.
    Stranger,
}

/// Why a job was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRun {
    /// Its lane already has `queue` jobs waiting: refused at once (429
    /// with Retry-After) rather than queued for seconds.
    Busy,
    /// The job failed (no randomness).
    Failed,
}

/// Seconds a refused (`NotRun::Busy`) client is asked to wait.
pub const BUSY_WAIT: u64 = 2;

#[derive(Default)]
struct Queues {
    known: VecDeque<Job>,
    stranger: VecDeque<Job>,
    closed: bool,
    /// The known users' thread is waiting for a job.
    known_idle: bool,
    /// When the known users' thread last took a stranger's job.
    last_help: Option<Instant>,
}

/// The known users' thread takes a stranger's job at most this often, and
/// only one that waits alone: a new browser's login during a flood of
/// other requests then runs at the process's priority instead of nice 19,
/// while credential stuffing (a queue of strangers) never gets it, and a
/// known user waits at most for one stranger's hash, at most four times a
/// second.
const HELP_EVERY: Duration = Duration::from_millis(250);

impl Queues {
    /// Whether the known users' thread would take the stranger's job that
    /// waits now.
    fn known_helps(&self, now: Instant) -> bool {
        self.known.is_empty()
            && self.stranger.len() == 1
            && self
                .last_help
                .is_none_or(|t| now.duration_since(t) >= HELP_EVERY)
    }
}

/// The hashing threads: a lane's jobs in the order they come, each job on
/// a thread's own reused blocks.
pub struct Hashers {
    queues: Arc<(Mutex<Queues>, Condvar)>,
    threads: usize,
    /// Jobs waiting per lane, at most.
    queue: usize,
}

impl Hashers {
    pub fn start(threads: usize, queue: usize, pepper: Pepper) -> Hashers {
        let threads = threads.max(1);
        let queues = Arc::new((Mutex::new(Queues::default()), Condvar::new()));
        let (pepper, dummy) = (Arc::new(pepper), Arc::new(OnceLock::new()));
        for i in 0..threads {
            let queues = Arc::clone(&queues);
            // The last of two or more is kept for known users, the others
            // are the strangers'.
            let takes = match (threads, i + 1 == threads) {
                (1, _) => Takes::Both,
                (_, true) => Takes::Known,
                (_, false) => Takes::Strangers,
            };
            let mut hasher = Hasher::with(Arc::clone(&pepper), Arc::clone(&dummy));
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    if takes == Takes::Strangers {
                        lower_this_thread(19);
                    }
                    while let Some(job) = next_job(&queues, takes) {
                        // A job that panics (no randomness) loses its
                        // answer, not the thread.
                        let run = std::panic::AssertUnwindSafe(|| job(&mut hasher));
                        if std::panic::catch_unwind(run).is_err() {
                            tracing::error!("a password hashing job failed");
                        }
                    }
                })
                .expect("thread");
        }
        Hashers {
            queues,
            threads,
            queue: queue.max(1),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Whether `lane`'s queue is full now: a job would be refused. Asked
    /// before a stranger's login does anything else, so that under a flood
    /// a refusal costs no database work at all.
    pub fn full(&self, lane: Lane) -> bool {
        let q = self.queues.0.lock().expect("hashing jobs");
        match lane {
            Lane::Known => q.known.len() >= self.queue,
            Lane::Stranger => q.stranger.len() >= self.queue,
        }
    }

    /// Runs `f` on a hashing thread, in `lane`; refused at once when the
    /// lane's queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut Hasher) -> T + Send + 'static,
    ) -> Result<T, NotRun> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |h| {
            let _ = tx.send(f(h));
        });
        {
            let (lock, ready) = &*self.queues;
            let mut q = lock.lock().expect("hashing jobs");
            let waiting = match lane {
                Lane::Known => &mut q.known,
                Lane::Stranger => &mut q.stranger,
            };
            if waiting.len() >= self.queue {
                return Err(NotRun::Busy);
            }
            waiting.push_back(job);
            // Every thread: the one woken must be one that takes the lane.
            ready.notify_all();
        }
        rx.await.map_err(|_| NotRun::Failed)
    }

    /// Runs a login's database step (throttle, account, session): a known
    /// user's on the known users' thread, at the priority of its password
    /// check, since the blocking pool runs at `server.request_threads_nice`
    /// beside the threads that answer a flood; also on the blocking pool
    /// when the known users' queue is full, and a stranger's always.
    /// `None`: the step panicked.
    pub async fn step<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce() -> T + Send + Clone + 'static,
    ) -> Option<T> {
        if lane == Lane::Known {
            let g = f.clone();
            match self.run(Lane::Known, move |_| g()).await {
                Ok(t) => return Some(t),
                Err(NotRun::Failed) => return None,
                Err(NotRun::Busy) => {}
            }
        }
        tokio::task::spawn_blocking(f).await.ok()
    }
}

/// Which lanes a hashing thread takes jobs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// Known users' first (a pool of one thread).
    Both,
    Known,
    Strangers,
}

/// The next job for a thread (`None`: the pool is gone). The known
/// users' thread takes theirs first, then, now and then, a stranger's that
/// waits alone (`Queues::known_helps`); the strangers' threads leave that
/// one to it while it is idle.
fn next_job(queues: &(Mutex<Queues>, Condvar), takes: Takes) -> Option<Job> {
    let (lock, ready) = queues;
    let mut q = lock.lock().expect("hashing jobs");
    loop {
        if q.closed {
            return None;
        }
        let now = Instant::now();
        match takes {
            Takes::Both => {
                if let Some(job) = q.known.pop_front().or_else(|| q.stranger.pop_front()) {
                    return Some(job);
                }
            }
            Takes::Known => {
                let job = q.known.pop_front().or_else(|| {
                    if q.known_helps(now) {
                        q.last_help = Some(now);
                        q.stranger.pop_front()
                    } else {
                        None
                    }
                });
                if let Some(job) = job {
                    q.known_idle = false;
                    if !q.stranger.is_empty() {
                        // A stranger's job left for this thread is theirs again.
                        ready.notify_all();
                    }
                    return Some(job);
                }
                q.known_idle = true;
            }
            Takes::Strangers => {
                if q.known_idle && q.known_helps(now) {
                    // Left for the known users' thread: make sure it looks.
                    ready.notify_all();
                } else if let Some(job) = q.stranger.pop_front() {
                    return Some(job);
                }
            }
        }
        q = ready.wait(q).expect("hashing jobs");
    }
}

/// Lowers the calling thread's CPU priority to `nice` (Linux takes a
/// thread id for `PRIO_PROCESS`). A thread cannot raise it again without
/// privileges: the strangers' hashing threads (19) and the threads that
/// answer requests (`server.request_threads_nice`) call this, never a
/// known user's hashing thread.
pub fn lower_this_thread(nice: i32) {
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), nice) {
        tracing::warn!("could not lower a thread's priority to nice {nice}: {e}");
    }
}

impl Drop for Hashers {
    fn drop(&mut self) {
        let (lock, ready) = &*self.queues;
        lock.lock().expect("hashing jobs").closed = true;
        ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(Pepper::new(vec![7; 32]))
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        // 12 CJK characters: 36 bytes, 12 code points: long enough.
        assert!(check_new("臺灣高等法院臺中分院民事", "a@b.tw").is_ok());
        assert!(check_new("臺灣高等法院臺中分院民", "a@b.tw").is_err());
        // Full-width digits normalise to ASCII ones (NFKC): the same
        // password typed on a full-width keyboard.
        assert_eq!(normalise("ＡＢＣ１２３"), "ABC123");
        assert!(check_new(&"x".repeat(128), "a@b.tw").is_ok());
        assert!(check_new(&"x".repeat(129), "a@b.tw").is_err());
    }

    #[test]
    fn common_passwords_and_the_address_are_refused_without_composition_rules() {
        assert!(common_count() >= 10_000, "{}", common_count());
        assert!(check_new("1qaz2wsx3edc", "a@b.tw").is_err());
        assert!(check_new("Password1234", "a@b.tw").is_err());
        assert!(check_new("lawyer@firm.tw", "Lawyer@Firm.tw").is_err());
        // All lower-case letters, no digits or symbols: fine.
        assert!(check_new("correcthorsebatterystaple", "a@b.tw").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_with_the_required_cost_and_never_truncate() {
        let mut h = hasher();
        let phc = h.hash("correct horse battery staple");
        assert!(
            phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid="),
            "{phc}"
        );
        assert_eq!(
            h.verify("correct horse battery staple", Some(&phc)),
            Verdict::Right
        );
        assert_eq!(
            h.verify("correct horse battery stapl", Some(&phc)),
            Verdict::Wrong
        );
        // A full-width variant is the same password (NFKC).
        assert!(h
            .verify("ｃｏｒｒｅｃｔ horse battery staple", Some(&phc))
            .right());
        let long = "y".repeat(128);
        let phc = h.hash(&long);
        assert!(!h.verify(&"y".repeat(127), Some(&phc)).right());
        assert!(h.verify(&long, Some(&phc)).right());
        assert_eq!(h.verify(&long, None), Verdict::Wrong);
    }

    #[test]
    fn strength_grows_with_length_and_variety_and_never_praises_a_common_one() {
        assert_eq!(strength("short", ""), Strength::TooShort);
        assert_eq!(strength("password1234", ""), Strength::Common);
        assert_eq!(
            strength("wang@example.tw", "Wang@Example.tw"),
            Strength::Common
        );
        assert_eq!(strength("aaaaaaaaaaaa", ""), Strength::Weak);
        assert!(strength("correcthorsebatterystaple", "") >= Strength::Strong);
        assert!(strength("臺灣高等法院臺中分院民事", "") >= Strength::Strong);
        assert!(strength("abcdefghijkl", "") < strength("abcdefghijkl-Q9", ""));
        // The labels the pages and static/password.js show.
        let js = include_str!("../static/password.js");
        for s in [
            Strength::TooShort,
            Strength::Common,
            Strength::Weak,
            Strength::Fair,
            Strength::Strong,
            Strength::VeryStrong,
        ] {
            assert!(js.contains(&format!("'{}'", s.label())), "{}", s.label());
        }
    }

    #[test]
    fn a_hash_is_useless_without_its_pepper() {
        let mut h = hasher();
        let phc = h.hash("correct horse battery staple");
        // The database copied without the pepper file.
        let mut other = Hasher::new(Pepper::new(vec![8; 32]));
        assert_eq!(
            other.verify("correct horse battery staple", Some(&phc)),
            Verdict::Wrong
        );
    }

    /// Runs named jobs on `pool`, each `ms` long, recording when each
    /// began and on which thread.
    struct Recorder {
        pool: Arc<Hashers>,
        order: Arc<Mutex<Vec<Started>>>,
    }

    /// A job's name, its thread, and when it began.
    type Started = (&'static str, String, Instant);

    impl Recorder {
        fn new(threads: usize, queue: usize) -> Recorder {
            Recorder {
                pool: Arc::new(Hashers::start(threads, queue, Pepper::new(vec![7; 32]))),
                order: Arc::new(Mutex::new(Vec::new())),
            }
        }

        fn job(
            &self,
            name: &'static str,
            lane: Lane,
            ms: u64,
        ) -> tokio::task::JoinHandle<Result<(), NotRun>> {
            let (pool, order) = (Arc::clone(&self.pool), Arc::clone(&self.order));
            tokio::spawn(async move {
                pool.run(lane, move |_| {
                    let thread = std::thread::current().name().unwrap_or("").to_string();
                    order.lock().unwrap().push((name, thread, Instant::now()));
                    std::thread::sleep(Duration::from_millis(ms));
                })
                .await
            })
        }

        fn started(&self) -> Vec<Started> {
            self.order.lock().unwrap().clone()
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    async fn pause(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Issue 12: a known user's login also waited for its database steps
    /// (throttle, account, session) on the blocking pool, which runs at
    /// `server.request_threads_nice` beside the threads answering a flood.
    /// They now run on the known users' thread, like its password check;
    /// a stranger's stay on the pool, and a full known queue sends the step
    /// to the pool rather than refusing it.
    #[test]
    fn a_known_users_database_step_runs_on_the_known_users_thread() {
        runtime().block_on(async {
            let pool = Arc::new(Hashers::start(2, 1, Pepper::new(vec![7; 32])));
            let name = || std::thread::current().name().unwrap_or("").to_string();
            assert_eq!(pool.step(Lane::Known, name).await.unwrap(), "argon2-1");
            let stranger = pool.step(Lane::Stranger, name).await.unwrap();
            assert!(!stranger.starts_with("argon2"), "{stranger}");
            // The known users' thread held by a job until released, and
            // its queue (1) full behind it.
            let (started, has_started) = tokio::sync::oneshot::channel::<()>();
            let (release, held) = std::sync::mpsc::channel::<()>();
            let holding = Arc::clone(&pool);
            let first = tokio::spawn(async move {
                holding
                    .run(Lane::Known, move |_| {
                        let _ = started.send(());
                        held.recv_timeout(Duration::from_secs(10)).is_ok()
                    })
                    .await
            });
            has_started.await.unwrap();
            let queued = Arc::clone(&pool);
            let second = tokio::spawn(async move { queued.run(Lane::Known, |_| ()).await });
            let waiting = Instant::now();
            while !pool.full(Lane::Known) && waiting.elapsed() < Duration::from_secs(5) {
                pause(5).await;
            }
            assert!(pool.full(Lane::Known));
            let overflow = pool.step(Lane::Known, name).await.unwrap();
            assert!(!overflow.starts_with("argon2"), "{overflow}");
            release.send(()).unwrap();
            assert_eq!(first.await.unwrap(), Ok(true));
            assert_eq!(second.await.unwrap(), Ok(()));
        });
    }

    /// Issue 12: credential stuffing from 64 addresses took a person's
    /// login from 33 ms to 442 ms, queued behind the strangers' hashes.
    /// A known user's job now waits for no queue of strangers: at most for
    /// the one stranger's hash the known users' thread may be helping with.
    #[test]
    fn a_known_users_job_passes_a_queue_of_strangers_and_an_overfull_lane_is_refused() {
        let r = Recorder::new(2, 4);
        runtime().block_on(async {
            // The threads are up and waiting; s1 waits alone: the idle
            // known users' thread takes it.
            pause(50).await;
            let mut strangers = vec![r.job("s1", Lane::Stranger, 200)];
            pause(80).await;
            // s2 to the strangers' thread, then four waiting: full.
            strangers.push(r.job("s2", Lane::Stranger, 200));
            pause(30).await;
            strangers.extend(["s3", "s4", "s5", "s6"].map(|n| r.job(n, Lane::Stranger, 200)));
            pause(30).await;
            let refused = r.pool.run(Lane::Stranger, |_| ()).await;
            assert_eq!(refused, Err(NotRun::Busy));
            let known = r.job("known", Lane::Known, 10);
            assert_eq!(known.await.unwrap(), Ok(()));
            for s in strangers {
                assert_eq!(s.await.unwrap(), Ok(()));
            }
        });
        let order = r.started();
        let names: Vec<&str> = order.iter().map(|(n, ..)| *n).collect();
        // The known user's job began as soon as the known users' thread
        // was free (s1 done), ahead of the four strangers waiting.
        assert_eq!(names[..3], ["s1", "s2", "known"], "{order:?}");
        assert_eq!(order[0].1, "argon2-1", "{order:?}");
        assert_eq!(order[2].1, "argon2-1", "{order:?}");
        // While others waited behind them, strangers kept to their thread
        // (the last, left waiting alone, may be helped).
        assert!(
            order[3..6].iter().all(|(_, t, _)| t == "argon2-0"),
            "a queue of strangers never gets the known users' thread: {order:?}"
        );
    }

    /// A new browser's login during a flood of other requests (made-up
    /// links, captchas) is a stranger's job waiting alone: it runs on the
    /// known users' thread, at the process's priority, not at nice 19
    /// behind the flood (abuse-check: 2.8-3.3x a quiet login before). Not
    /// more than once per HELP_EVERY, so strangers keep to their threads
    /// when they come faster.
    #[test]
    fn a_stranger_waiting_alone_runs_on_the_known_users_thread_now_and_then() {
        let r = Recorder::new(2, 8);
        runtime().block_on(async {
            pause(50).await; // the threads are up and waiting
            assert_eq!(r.job("alone", Lane::Stranger, 20).await.unwrap(), Ok(()));
            // Within HELP_EVERY of the first, one after the other.
            for name in ["next1", "next2", "next3"] {
                assert_eq!(r.job(name, Lane::Stranger, 20).await.unwrap(), Ok(()));
            }
            pause(HELP_EVERY.as_millis() as u64 + 50).await;
            assert_eq!(r.job("later", Lane::Stranger, 20).await.unwrap(), Ok(()));
        });
        let started = r.started();
        let on = |name: &str| started.iter().find(|(n, ..)| *n == name).unwrap().1.clone();
        assert_eq!(on("alone"), "argon2-1", "{started:?}");
        assert_eq!(on("later"), "argon2-1", "{started:?}");
        // The known users' thread helped at most once per HELP_EVERY: a job
        // that came sooner after its last help went to the strangers'.
        let mut last_help = None;
        for (name, thread, at) in &started {
            let soon = last_help.is_some_and(|h: Instant| at.duration_since(h) < HELP_EVERY);
            if thread == "argon2-1" {
                assert!(!soon, "{name} helped too soon: {started:?}");
                last_help = Some(*at);
            }
        }
        // On a machine that is not crawling, next1 came that soon.
        assert_eq!(on("next1"), "argon2-0", "{started:?}");
    }

    #[test]
    fn hashes_made_before_the_pepper_still_verify_and_ask_for_a_new_one() {
        // What the server stored before: argon2's own, of the password.
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let plain = Params::new(M_COST, T_COST, 1, None).unwrap();
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, plain)
            .hash_password(b"correct horse battery staple", &salt)
            .unwrap()
            .to_string();
        let mut h = hasher();
        assert_eq!(
            h.verify("correct horse battery staple", Some(&stored)),
            Verdict::RightOutdated
        );
        assert_eq!(
            h.verify("correct horse battery stapl", Some(&stored)),
            Verdict::Wrong
        );
        // Costlier parameters verify too, and ask for a new hash.
        let costly = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2 * M_COST, T_COST, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery staple", &salt)
        .unwrap()
        .to_string();
        assert_eq!(
            h.verify("correct horse battery staple", Some(&costly)),
            Verdict::RightOutdated
        );
        assert_eq!(
            h.blocks.len(),
            M_COST as usize,
            "the extra memory is given back"
        );
    }
}
