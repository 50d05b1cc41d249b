//! Availability and anti-automation (issue 12): what an anonymous client
//! can make the server spend — password hashing, connections, memory —
//! and what it can learn from timing. Floods come from other loopback
//! addresses (127.0.0.2, …) than the ordinary user (127.0.0.1), each
//! bounded in count and time.

use std::time::{Duration, Instant};

use crate::util::{
    connect_from, eventually, measuring, median, read_response, rss, Client, Data, Server, Source,
    CAPTCHA, PASSWORD,
};

const WANG: &str = "wang.ming@example.com";

/// A made-up link token: 64 hex digits, like a real one.
fn made_up_token(i: usize) -> String {
    format!("{i:064x}")
}

/// A made-up activation or reset link posted with a valid new password
/// (from a client with its anti-forgery cookie).
fn post_made_up_link(c: &mut Client, path: &str, i: usize) -> crate::util::Resp {
    // A link that is not valid shows no form: the anti-forgery token
    // comes from another page before login.
    let csrf = c.get("/forgot").field("csrf");
    c.post(
        path,
        &[
            ("csrf", &csrf),
            ("token", &made_up_token(i)),
            ("password", "a long enough passphrase"),
            ("confirm", "a long enough passphrase"),
        ],
    )
}

/// The finding: `POST /reset` and `POST /activate` with made-up tokens ran
/// argon2 before they knew the token was bad, so anyone could make the
/// server hash at will, no captcha asked. A made-up link must cost no more
/// than a database lookup: here well under a quarter of a wrong-password
/// login (one argon2 verification), comparing the fastest of each.
#[test]
fn a_made_up_link_is_refused_before_any_password_hashing() {
    let _turn = measuring();
    let data = Data::sample();
    let server = Server::start(
        &data,
        &[
            ("CPOR_SERVER_IP_FAILURES_PER_HOUR", "100000"),
            // Many captchas from one address: past the default allowance (20,
            // then 10 a minute), which is not what this test is about.
            ("CPOR_SERVER_CAPTCHA_BURST", "10000"),
        ],
    );
    let mut c = Client::new(&server);
    let mut login = Vec::new();
    let mut link = Vec::new();
    for i in 0..12 {
        let page = c.get("/login");
        let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
        let who = format!("nobody{i}@example.com");
        let started = Instant::now();
        let r = c.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("captcha_id", &id),
                ("captcha", CAPTCHA),
                ("email", &who),
                ("password", "wrong password!!"),
            ],
        );
        login.push(started.elapsed());
        assert_eq!(r.status, 200);
        for path in ["/reset", "/activate"] {
            let csrf = c.get("/forgot").field("csrf");
            let started = Instant::now();
            let r = c.post(
                path,
                &[
                    ("csrf", &csrf),
                    ("token", &made_up_token(i)),
                    ("password", "a long enough passphrase"),
                    ("confirm", "a long enough passphrase"),
                ],
            );
            link.push(started.elapsed());
            assert!(r.body.contains("連結無效"), "{}", r.body);
        }
    }
    let (l, k) = (*login.iter().min().unwrap(), *link.iter().min().unwrap());
    assert!(
        k * 4 < l,
        "fastest made-up link {k:?} against fastest wrong-password login {l:?}: hashed?"
    );
}

/// Made-up links are failures of the client's address, like wrong
/// passwords and captchas: past the hourly limit, 429 with Retry-After.
#[test]
fn made_up_links_count_against_the_client_address() {
    let data = Data::sample();
    let server = Server::start(&data, &[("CPOR_SERVER_IP_FAILURES_PER_HOUR", "6")]);
    let mut c = Client::new(&server);
    for i in 0..3 {
        let r = post_made_up_link(&mut c, "/reset", i);
        assert_eq!(r.status, 404, "attempt {i}");
        let r = post_made_up_link(&mut c, "/activate", i);
        assert_eq!(r.status, 404, "attempt {i}");
    }
    let r = post_made_up_link(&mut c, "/reset", 99);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert_eq!(c.login(WANG, "wrong password!!").status, 429);
    // Another address is not affected.
    let mut other = Source::new(&server, "127.0.0.3");
    let csrf = other.get("/forgot").field("csrf");
    let r = other.post(
        "/reset",
        &[
            ("csrf", &csrf),
            ("token", &made_up_token(1)),
            ("password", "a long enough passphrase"),
            ("confirm", "a long enough passphrase"),
        ],
    );
    assert_eq!(r.status, 404, "{}", r.body);
}

/// The finding: with 64 connections posting made-up links, a real login
/// took 1.1–1.35 s instead of 0.03–0.06 s (they shared the hashing
/// permits). Here 4 connections from 127.0.0.2 post made-up reset links
/// at 40 a second in all (not throttled: the point is what each costs);
/// meanwhile a person's logins from 127.0.0.1 must take, in the median,
/// under twice as long as they did with the site quiet.
#[test]
fn a_flood_of_made_up_links_does_not_slow_anyones_login() {
    let _turn = measuring();
    let data = Data::sample();
    let server = Server::start(&data, &[("CPOR_SERVER_IP_FAILURES_PER_HOUR", "1000000")]);
    let mut c = Client::new(&server);
    assert_eq!(c.activate(&data, WANG, PASSWORD).status, 303);
    let logins = |c: &mut Client, n: usize| -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let (r, took) = c.timed_login(WANG, PASSWORD);
                assert_eq!(r.header("location"), Some("/cases"), "{}", r.body);
                took
            })
            .collect()
    };
    let quiet = median(&logins(&mut c, 9));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (flooded, posted) = std::thread::scope(|scope| {
        let flooders: Vec<_> = (0..4)
            .map(|t| {
                let (server, stop) = (&server, &stop);
                scope.spawn(move || {
                    let mut f = Source::new(server, "127.0.0.2");
                    let started = Instant::now();
                    let mut sent = 0u32;
                    // At most 60 s, whatever happens to the logins.
                    while !stop.load(std::sync::atomic::Ordering::Relaxed)
                        && started.elapsed() < Duration::from_secs(60)
                    {
                        // 10 a second on each connection.
                        let due = Duration::from_millis(100) * sent;
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        let i = t * 100_000 + sent as usize;
                        let csrf = f.get("/forgot").field("csrf");
                        f.post(
                            "/reset",
                            &[
                                ("csrf", &csrf),
                                ("token", &made_up_token(i)),
                                ("password", "a long enough passphrase"),
                                ("confirm", "a long enough passphrase"),
                            ],
                        );
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        // Let the flood build up first.
        std::thread::sleep(Duration::from_secs(2));
        let flooded = median(&logins(&mut c, 9));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let posted: u32 = flooders.into_iter().map(|f| f.join().unwrap()).sum();
        (flooded, posted)
    });
    assert!(posted >= 40, "the flood posted only {posted} links");
    assert!(
        flooded < quiet * 2,
        "median login {flooded:?} during the flood, {quiet:?} before it ({posted} links posted)"
    );
}

/// The finding: each argon2 hash takes 19 MiB, and glibc kept those blocks
/// in every thread's arena that ever hashed, so the server's RSS levelled
/// at about 0.8 GB after 400 hashes where the design expects about 40 MB.
/// Here 1,000 wrong-password logins over the API (each one argon2
/// verification), from 16 connections at once: the server's RSS, sampled
/// throughout, must stay under 200 MB.
#[test]
fn a_thousand_password_hashes_keep_the_server_under_200_mb() {
    let _turn = measuring();
    let data = Data::sample();
    let server = Server::start(
        &data,
        &[
            ("CPOR_SERVER_IP_FAILURES_PER_HOUR", "1000000"),
            ("CPOR_SERVER_ACCOUNT_FAILURES_PER_HOUR", "1000000"),
            ("CPOR_SERVER_SLOW_AFTER", "1000000"),
            // Many captchas from one address: past the default allowance (20,
            // then 10 a minute), which is not what this test is about.
            ("CPOR_SERVER_CAPTCHA_BURST", "10000"),
            // Every login hashed: none refused for a full queue.
            ("CPOR_SERVER_HASHING_QUEUE", "64"),
            // 2,000 requests from one address: past the default request
            // rate (500, then 100 a second) whenever the hashes take less
            // than 15 s, as on a quiet machine; not what this test is about.
            ("CPOR_SERVER_REQUESTS_PER_SECOND_PER_IP", "0"),
        ],
    );
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let peak = std::thread::scope(|scope| {
        let (server, next, done) = (&server, &next, &done);
        let watcher = scope.spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss(server));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak.max(rss(server))
        });
        let workers: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(move || {
                    let mut c = Client::new(server);
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= 1000 {
                            return;
                        }
                        let captcha = c.api("POST", "/api/v1/captcha", None, None).json();
                        let r = c.api(
                            "POST",
                            "/api/v1/session",
                            Some(serde_json::json!({
                                "email": format!("nobody{i}@example.com"),
                                "password": "wrong password!!",
                                "captcha_id": captcha["id"],
                                "captcha": CAPTCHA,
                            })),
                            None,
                        );
                        assert_eq!(r.status, 401, "{}", r.body);
                    }
                })
            })
            .collect();
        let joined: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        // Stop the watcher before a worker's panic is passed on, or the
        // scope would wait for it for ever.
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        for j in joined {
            j.unwrap();
        }
        watcher.join().unwrap()
    });
    assert!(
        peak < 200 * 1024 * 1024,
        "the server's RSS reached {} MiB through 1,000 hashes",
        peak / (1024 * 1024)
    );
}

/// How long until the server closes `s` (reads 0 bytes or an error),
/// writing `trickle` once a second meanwhile; `None` if it is still open
/// after `limit`. An answer it sends first (a 408) is read and skipped.
fn closed_after(
    s: &mut std::net::TcpStream,
    trickle: Option<&[u8]>,
    limit: Duration,
) -> Option<Duration> {
    use std::io::{Read, Write};
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let mut last_write = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(started.elapsed()),
        }
        if let Some(t) = trickle {
            if last_write.elapsed() >= Duration::from_secs(1) {
                last_write = Instant::now();
                if s.write_all(t).is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

/// The finding: warp and hyper ran with their defaults, and 600
/// slow-header, 600 slow-body and 600 idle connections were all kept open
/// for over a minute. Each kind is closed once its timeout (here 2 s)
/// has passed.
#[test]
fn slow_and_idle_connections_are_closed_after_their_timeouts() {
    use std::io::Write;
    let data = Data::sample();
    let server = Server::start(
        &data,
        &[
            ("CPOR_SERVER_HEADER_TIMEOUT_SECONDS", "2"),
            ("CPOR_SERVER_BODY_TIMEOUT_SECONDS", "2"),
            ("CPOR_SERVER_IDLE_TIMEOUT_SECONDS", "2"),
        ],
    );
    let limit = Duration::from_secs(15);
    let within = Duration::from_millis(4500);
    // Headers, one line a second, never finished.
    let mut s = connect_from(&server, "127.0.0.2").unwrap();
    s.write_all(b"GET /login HTTP/1.1\r\nhost: x\r\n").unwrap();
    let t = closed_after(&mut s, Some(b"x-slow: 1\r\n"), limit);
    assert!(t.is_some_and(|t| t < within), "slow headers: {t:?}");
    // A body announced, one byte a second.
    let mut s = connect_from(&server, "127.0.0.2").unwrap();
    s.write_all(b"POST /login HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\ncontent-type: application/x-www-form-urlencoded\r\n\r\nemail=")
        .unwrap();
    let t = closed_after(&mut s, Some(b"a"), limit);
    assert!(t.is_some_and(|t| t < within), "slow body: {t:?}");
    // Connected, nothing sent.
    let mut s = connect_from(&server, "127.0.0.2").unwrap();
    let t = closed_after(&mut s, None, limit);
    assert!(t.is_some_and(|t| t < within), "idle, nothing sent: {t:?}");
    // One request answered, then idle (kept alive).
    let mut s = connect_from(&server, "127.0.0.2").unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 200);
    let t = closed_after(&mut s, None, limit);
    assert!(t.is_some_and(|t| t < within), "idle after a request: {t:?}");
    // An ordinary request still works.
    assert_eq!(Client::new(&server).get("/login").status, 200);
}

/// Whether the server serves a request on this connection (an answer
/// other than 503), or refuses it (503, or closes it).
fn served(s: &mut std::net::TcpStream) -> bool {
    use std::io::Write;
    if s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    matches!(read_response(s), Ok(r) if r.status != 503)
}

/// The finding: no limit on connections, so under the file limit systemd
/// gives a service (1,024) 450 idle connections from one client made every
/// other client time out. One address may hold `max_connections_per_ip`
/// (here 4), everyone together `max_connections` (here 10); past either,
/// a connection is refused at once, and other clients are served.
#[test]
fn one_address_cannot_take_every_connection() {
    let data = Data::sample();
    let server = Server::start(
        &data,
        &[
            ("CPOR_SERVER_MAX_CONNECTIONS_PER_IP", "4"),
            ("CPOR_SERVER_MAX_CONNECTIONS", "10"),
        ],
    );
    let mut held: Vec<std::net::TcpStream> = (0..4)
        .map(|_| connect_from(&server, "127.0.0.2").unwrap())
        .collect();
    for s in &mut held {
        assert!(served(s), "within the per-address cap");
    }
    let mut fifth = connect_from(&server, "127.0.0.2").unwrap();
    assert!(!served(&mut fifth), "a fifth connection from 127.0.0.2");
    let mut other = connect_from(&server, "127.0.0.3").unwrap();
    assert!(served(&mut other), "another address is served");
    // One connection given back, one more is allowed.
    held.pop();
    eventually("a connection slot freed", || {
        let mut s = connect_from(&server, "127.0.0.2").unwrap();
        let ok = served(&mut s);
        if ok {
            held.push(s);
        }
        ok
    });
    // In all: 4 + 1 held; 5 more from other addresses fill the 10.
    for i in 0..5 {
        let mut s = connect_from(&server, &format!("127.0.0.{}", 10 + i)).unwrap();
        assert!(served(&mut s), "connection {} of 10", 6 + i);
        held.push(s);
    }
    let mut over = connect_from(&server, "127.0.0.20").unwrap();
    assert!(!served(&mut over), "an eleventh connection");
    drop(other);
}

/// The unit gives the server more open files than the connections it
/// accepts: a connection is a file, and so are the databases, snapshots
/// and logs. Without `LimitNOFILE` systemd gives 1,024.
#[test]
fn the_service_unit_gives_the_server_files_for_every_connection_it_allows() {
    let root = crate::util::repo_root();
    let unit = std::fs::read_to_string(root.join("scripts/deploy/cpor-server.service")).unwrap();
    let limit: u64 = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("LimitNOFILE="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1024);
    let example: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("cpor.example.toml")).unwrap()).unwrap();
    let max = example["server"]
        .get("max_connections")
        .and_then(|v| v.as_integer())
        .unwrap_or(1 << 20) as u64;
    assert!(
        limit >= max + 1024,
        "LimitNOFILE={limit} for max_connections = {max}"
    );
}

/// The finding: "forgot password" answered the same, but for an address
/// that has an account the work after the answer held the accounts lock
/// while it wrote a token (with fsync) and queued mail, so the *next*
/// request that needed the lock was slow only then: median 3.09 ms against
/// 0.18 ms for an unknown address, which flagged 37 of 50 existing
/// addresses at a 0.5 ms threshold.
///
/// Measured the same way: "forgot password" for 30 addresses that have an
/// account and 30 that do not, interleaved, each pair from its own
/// loopback address; right after each answer, a request that reads the
/// accounts database (a link's page), timed; the threshold is the unknown
/// addresses' median plus 0.5 ms. Before the fix this test measured (on a
/// loaded 2-core machine) a median of 2.78 ms after an existing address
/// against 0.54 ms after an unknown one: 28 of the 30 existing addresses
/// over the threshold, against 3 unknown ones. After it (the link mailer
/// has its own thread and connections, and waits 0.5–2.5 s), five runs
/// measured medians of 0.48, 0.99, 0.73, 0.60 and 0.65 ms after an
/// existing address against 0.47, 1.00, 0.88, 0.58 and 0.69 ms after an
/// unknown one, with 0, 5, 6, 1 and 4 existing addresses over the
/// threshold against 1, 5, 5, 1 and 3 unknown ones: noise, both ways.
///
/// A round that finds a difference is measured again, with new addresses
/// and sources, up to three rounds, and the test fails only if every round
/// does: a leak like the finding's (2.2 ms, every round) fails all three,
/// while a busy two-core machine once moved one round's medians 0.26 ms
/// apart (1.31 against 1.05 ms) with no server change, once in five suite
/// runs.
#[test]
fn forgot_password_leaves_no_trace_in_the_next_requests_timing() {
    const ROUNDS: usize = 3;
    let _turn = measuring();
    let data = Data::sample();
    let member = |round: usize, i: usize| format!("member{round}-{i}@example.com");
    {
        let db = rusqlite::Connection::open(data.path().join("accounts.sqlite")).unwrap();
        for round in 0..ROUNDS {
            for i in 0..30 {
                // Activated (a reset link each: an account never
                // activated that no grant names gets nothing).
                db.execute(
                    "INSERT INTO accounts (email, created_at, password_hash, activated_at)
                     VALUES (?1, '2026-11-01T00:00:00Z', 'not a hash', '2026-11-01T00:00:00Z')",
                    [member(round, i)],
                )
                .unwrap();
            }
        }
    }
    let server = Server::start(&data, &[]);
    let probe = |source: &str, who: &str| -> Duration {
        let mut c = Source::new(&server, source);
        let page = c.get("/forgot");
        let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
        let r = c.post(
            "/forgot",
            &[
                ("csrf", &csrf),
                ("captcha_id", &id),
                ("captcha", CAPTCHA),
                ("email", who),
            ],
        );
        assert_eq!(r.status, 200);
        let started = Instant::now();
        let r = c.get(&format!("/reset?token={}", made_up_token(7)));
        let took = started.elapsed();
        assert!(r.body.contains("連結無效"));
        took
    };
    // One round: what it found, or None when it found no difference.
    let round = |round: usize| -> Option<String> {
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for i in 0..30 {
            let source = format!("127.0.{}.{}", round + 1, i + 1);
            let stranger = format!("stranger{round}-{i}@example.com");
            // Which goes first alternates, so drift favours neither.
            if i % 2 == 0 {
                known.push(probe(&source, &member(round, i)));
                unknown.push(probe(&source, &stranger));
            } else {
                unknown.push(probe(&source, &stranger));
                known.push(probe(&source, &member(round, i)));
            }
            // Let the mail of this pair go before the next.
            std::thread::sleep(Duration::from_millis(50));
        }
        let (mk, mu) = (median(&known), median(&unknown));
        let threshold = mu + Duration::from_micros(500);
        let over = |v: &[Duration]| v.iter().filter(|t| **t > threshold).count();
        let (fk, fu) = (over(&known), over(&unknown));
        let found = format!(
            "round {round}: after an existing address median {mk:?}, after an unknown one \
             {mu:?}; over {threshold:?}: {fk} existing of 30, {fu} unknown"
        );
        eprintln!("{found}");
        (fk > fu + 6 || mk >= mu + Duration::from_micros(250)).then_some(found)
    };
    // Rounds until one finds nothing: what each that did found.
    let found: Vec<String> = (0..ROUNDS).map_while(round).collect();
    let rounds = (found.len() + 1).min(ROUNDS);
    assert!(
        found.len() < ROUNDS,
        "existing addresses stand out in every round:\n{}",
        found.join("\n")
    );
    eventually("the mail to every member asked for", || {
        (0..rounds).all(|r| (0..30).all(|i| data.mails("reset", &member(r, i)) == 1))
    });
}
