//! Issue 15: several `cpor-server` processes on one data directory. Each
//! test starts two real processes (A and B) on the same directory and
//! checks one piece of shared state across them: captchas, throttle
//! counters, "forgot password" limits and the website's mail, sessions
//! and their end, statistics; and the process model: SO_REUSEPORT and the
//! drain on SIGTERM.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::util::*;

const WANG: &str = "wang.ming@example.com";

fn two(data: &Data, env: &[(&str, &str)]) -> (Server, Server) {
    (Server::start(data, env), Server::start(data, env))
}

fn api_login(c: &mut Client, captcha: &serde_json::Value, password: &str) -> Resp {
    c.api(
        "POST",
        "/api/v1/session",
        Some(serde_json::json!({
            "email": WANG, "password": password,
            "captcha_id": captcha["id"], "captcha": CAPTCHA
        })),
        None,
    )
}

/// A captcha fetched from A is answered on B (the login works), and is used
/// up on both: in one process's memory, A would have taken it again.
#[test]
fn a_captcha_from_one_process_is_answered_on_the_other_once() {
    let data = Data::sample();
    let (a, b) = two(&data, &[]);
    let (mut on_a, mut on_b) = (Client::new(&a), Client::new(&b));
    on_a.activate(&data, WANG, PASSWORD);
    let captcha = on_a.api("POST", "/api/v1/captcha", None, None).json();
    let first = api_login(&mut on_b, &captcha, PASSWORD);
    assert_eq!(first.status, 201, "{}", first.body);
    for (name, c) in [("B", &mut on_b), ("A", &mut on_a)] {
        let again = api_login(c, &captcha, PASSWORD);
        assert_eq!(again.status, 400, "on {name}: {}", again.body);
        assert_eq!(again.json()["error"], "bad_captcha", "on {name}");
    }
    // The page flow too: the login page from A, the form posted to B.
    let mut browser = Client::new(&a);
    let page = browser.get("/login");
    let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
    let form = [
        ("csrf", csrf.as_str()),
        ("captcha_id", id.as_str()),
        ("captcha", CAPTCHA),
        ("email", WANG),
        ("password", PASSWORD),
    ];
    browser.base = b.base.clone();
    assert_eq!(browser.post("/login", &form).status, 303);
    browser.base = a.base.clone();
    let replay = browser.post("/login", &form);
    assert_ne!(replay.status, 303, "a used captcha signed in again on A");
}

/// The captcha allowance per address was per process: N processes behind
/// one proxy gave a client N times the burst. Asked alternately of A and
/// B, one address gets the burst (here 4) once.
#[test]
fn two_processes_share_one_captcha_allowance() {
    let data = Data::sample();
    let env = [
        ("CPOR_SERVER_CAPTCHA_BURST", "4"),
        ("CPOR_SERVER_CAPTCHA_PER_MINUTE", "1"),
    ];
    let (a, b) = two(&data, &env);
    let made = (0..10)
        .filter(|i| {
            let server = if i % 2 == 0 { &a } else { &b };
            let r = Source::new(server, "127.0.0.2").send("POST", "/api/v1/captcha", &[], b"");
            assert!(matches!(r.status, 201 | 429), "{}", r.status);
            r.status == 201
        })
        .count();
    assert_eq!(made, 4);
    // Another address has its own.
    let r = Source::new(&b, "127.0.0.3").send("POST", "/api/v1/captcha", &[], b"");
    assert_eq!(r.status, 201);
}

/// 12 wrong passwords at once, half to each process, against a limit of 6
/// an hour: exactly 6 are verified, and both processes refuse the rest.
#[test]
fn the_failed_login_limit_holds_across_processes() {
    let data = Data::sample();
    let env = [
        ("CPOR_SERVER_ACCOUNT_FAILURES_PER_HOUR", "6"),
        ("CPOR_SERVER_SLOW_AFTER", "1000"),
    ];
    let (a, b) = two(&data, &env);
    Client::new(&a).activate(&data, WANG, PASSWORD);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..12)
            .map(|i| {
                let server = if i % 2 == 0 { &a } else { &b };
                s.spawn(move || {
                    let mut c = Client::new(server);
                    let captcha = c.api("POST", "/api/v1/captcha", None, None).json();
                    api_login(&mut c, &captcha, "wrong password!!").status
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let verified = statuses.iter().filter(|&&s| s == 401).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((verified, refused), (6, 6), "{statuses:?}");
    // Even the right password waits out the hour, on either process.
    for server in [&a, &b] {
        let mut c = Client::new(server);
        let captcha = c.api("POST", "/api/v1/captcha", None, None).json();
        assert_eq!(api_login(&mut c, &captcha, PASSWORD).status, 429);
    }
}

/// "Forgot password" mails at most 5 links an hour to an address, counted
/// across processes; each queued mail is delivered once (one attempt)
/// although both processes' mailers run.
#[test]
fn forgot_password_limits_and_website_mail_are_shared() {
    let data = Data::sample();
    let (a, b) = two(&data, &[]);
    Client::new(&a).activate(&data, WANG, PASSWORD);
    for i in 0..8 {
        let mut c = Client::new(if i % 2 == 0 { &a } else { &b });
        let page = c.get("/forgot");
        let r = c.post(
            "/forgot",
            &[
                ("csrf", &page.field("csrf")),
                ("captcha_id", &page.field("captcha_id")),
                ("captcha", CAPTCHA),
                ("email", WANG),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let outbox = || rusqlite::Connection::open(data.path().join("outbox.sqlite")).unwrap();
    let resets = |state: &str| -> i64 {
        outbox()
            .query_row(
                "SELECT count(*) FROM items WHERE kind = 'reset' AND state = ?1",
                [state],
                |r| r.get(0),
            )
            .unwrap()
    };
    eventually("five reset mails sent", || resets("sent") == 5);
    // Both mailers go on running: nothing more is queued or sent again.
    std::thread::sleep(Duration::from_secs(3));
    let (items, attempts): (i64, i64) = outbox()
        .query_row(
            "SELECT count(*), sum(attempts) FROM items WHERE kind = 'reset'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((items, attempts), (5, 5));
    assert_eq!(data.mails("reset", WANG), 5);
}

/// A session made on A works on B at once; ended on A (logout, or a
/// password change ending the others), it is refused on B within 1 s,
/// though B has just served it.
#[test]
fn a_session_ended_on_one_process_is_refused_on_the_other_within_a_second() {
    let data = Data::sample();
    let (a, b) = two(&data, &[]);
    let (mut on_a, mut on_b) = (Client::new(&a), Client::new(&b));
    on_a.activate(&data, WANG, PASSWORD);
    let mut token = || {
        let captcha = on_a.api("POST", "/api/v1/captcha", None, None).json();
        let r = api_login(&mut on_a, &captcha, PASSWORD);
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["token"].as_str().unwrap().to_string()
    };
    let (one, two) = (token(), token());
    let cases = |c: &mut Client, t: &str| c.api("GET", "/api/v1/cases", None, Some(t)).status;
    assert_eq!(cases(&mut on_b, &one), 200, "made on A, served by B");
    assert_eq!(cases(&mut on_b, &two), 200);
    let refused_on_b = |on_b: &mut Client, t: &str| {
        let start = Instant::now();
        while cases(on_b, t) == 200 {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "still served after 3 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    };
    // Logout on A.
    assert_eq!(
        on_a.api("DELETE", "/api/v1/session", None, Some(&one))
            .status,
        204
    );
    let took = refused_on_b(&mut on_b, &one);
    assert!(took < Duration::from_secs(1), "refused on B after {took:?}");
    // A password change in a browser on A ends every other session.
    let mut browser = Client::new(&a);
    assert_eq!(browser.login(WANG, PASSWORD).status, 303);
    let csrf = browser.csrf();
    assert_eq!(cases(&mut on_b, &two), 200);
    let new = "another horse battery staple";
    let changed = browser.change_password(&csrf, PASSWORD, new);
    assert_eq!(changed.status, 303, "{}", changed.body);
    let took = refused_on_b(&mut on_b, &two);
    assert!(took < Duration::from_secs(1), "refused on B after {took:?}");
    // The browser that changed it goes on, on B as well.
    browser.base = b.base.clone();
    assert_eq!(browser.get("/cases").status, 200);
}

/// Pages served by both processes are counted once each in the shared
/// statistics (each process's writer adds its own).
#[test]
fn visits_served_by_two_processes_add_up() {
    let data = Data::sample();
    let (a, b) = two(&data, &[]);
    for (server, n) in [(&a, 7), (&b, 5)] {
        let mut c = Client::new(server);
        for _ in 0..n {
            assert_eq!(c.get("/login").status, 200);
        }
    }
    let visits = || -> i64 {
        rusqlite::Connection::open(data.path().join("accounts.sqlite"))
            .unwrap()
            .query_row(
                "SELECT coalesce(sum(visits), 0) FROM daily_visits",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    eventually("12 visits recorded", || visits() >= 12);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(visits(), 12);
}

/// The flaky reset of the drain test below (about 1 in 1,500 connections
/// with tcp_migrate_req on): a connection A accepted just before SIGTERM,
/// whose request had not arrived yet, was closed unread by the drain
/// (hyper's graceful shutdown closes a connection that has begun no
/// request), and its client saw a reset. Such a connection gets its first
/// request answered, then closed.
#[test]
fn a_connection_accepted_before_sigterm_gets_its_first_request_answered() {
    let data = Data::sample();
    let mut a = Server::start(&data, &[]);
    let mut s = connect_from(&a, "127.0.0.2").unwrap();
    // Accepted by A (it serves a request on another connection after).
    assert_eq!(Source::new(&a, "127.0.0.3").get("/healthz").status, 200);
    a.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s).expect("an answer, not a reset");
    assert_eq!(r.status, 200, "{}", r.body);
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0, "then closed");
    let status = a.exited_within(Duration::from_secs(10)).expect("A exited");
    assert!(status.success(), "{status:?}");
}

/// A fresh-clone walk (2026-12-06): a second `cpor-server` started on the
/// address another serves (an earlier `scripts/run-sample` left running,
/// another checkout's, another data directory's) bound it too, silently
/// (SO_REUSEPORT was on by default): the kernel spread the requests
/// between the two, so that people saw another data directory's snapshot
/// and were signed out at random. Sharing an address is asked for
/// (`server.reuse_port = true`); by default the second stops, naming the
/// address and what to do.
#[test]
fn a_second_server_on_a_served_address_stops_unless_told_to_share_it() {
    let data = Data::sample();
    let a = Server::start(&data, &[]);
    let addr = server_addr(&a).to_string();
    let other = Data::empty();
    let err = Server::try_start_on(&other, &addr, &[])
        .err()
        .expect("the second server does not start");
    assert!(
        err.contains(&format!("cpor-server: listening on {addr}"))
            && err.contains("another process serves this address")
            && err.contains("server.reuse_port = true"),
        "{err}"
    );
}

/// SO_REUSEPORT: B binds the address A serves; A, sent SIGTERM, stops
/// accepting and B takes every new connection, with no request failing
/// meanwhile; a request A had begun is answered before A exits.
#[test]
fn a_second_process_takes_the_address_and_sigterm_drains_the_first() {
    // Without it Linux resets what was queued for A's listener when A
    // closes it (1 in about 1,500 connections here): see
    // scripts/deploy/90-cpor-sysctl.conf.
    let migrate = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_migrate_req").unwrap_or_default();
    assert_eq!(
        migrate.trim(),
        "1",
        "net.ipv4.tcp_migrate_req must be 1 (scripts/setup-test-deps sets it)"
    );
    let data = Data::sample();
    // A thousand new connections a second from one address: past the
    // default rates, which are not what this test is about.
    let env = [
        ("CPOR_SERVER_NEW_CONNECTIONS_PER_SECOND_PER_IP", "0"),
        ("CPOR_SERVER_REQUESTS_PER_SECOND_PER_IP", "0"),
        ("CPOR_SERVER_REUSE_PORT", "true"),
    ];
    let mut a = Server::start(&data, &env);
    let addr = server_addr(&a);
    // A request under way on A (alone on the address yet): its headers
    // and half its body.
    let mut pending = std::net::TcpStream::connect(addr).unwrap();
    pending
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n01234")
        .unwrap();
    let b = Server::start_on(&data, &addr.to_string(), &env);
    assert_eq!(server_addr(&b), addr);
    a.signal("TERM");
    // New connections, one request each, for 1.5 s: none fails.
    let (mut failed, mut served) = (0, 0);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        let answered = std::net::TcpStream::connect(addr).and_then(|mut s| {
            s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
            read_response(&mut s)
        });
        match answered {
            Ok(r) if r.status == 200 => served += 1,
            _ => failed += 1,
        }
    }
    assert_eq!(
        failed,
        0,
        "{failed} of {} failed while A drained",
        failed + served
    );
    // A's request is finished and answered, then A exits.
    pending.write_all(b"56789").unwrap();
    let answer = read_response(&mut pending).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let status = a.exited_within(Duration::from_secs(10)).expect("A exited");
    assert!(status.success(), "{status:?}");
    assert!(a.log().contains("draining"), "{}", a.log());
}
