//! The low findings of issue 12's security test, each with the test that
//! failed before its fix: forwarded addresses, HSTS, reset links after a
//! password change, forged pre-login tokens and foreign origins, a busy
//! database at activation, answers warp refuses, /metrics, retention.

use std::time::Duration;

use rusqlite::Connection;

use crate::util::{eventually, signs_in, Client, Data, Server, Source, CAPTCHA, PASSWORD};

const WANG: &str = "wang.ming@example.com";
const LAWYER: &str = "lawyer.chen@example.com";

fn accounts(data: &Data) -> Connection {
    let c = Connection::open(data.path().join("accounts.sqlite")).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// A signed-in client for `email` (activated with PASSWORD).
fn signed_in(server: &Server, data: &Data, email: &str) -> Client {
    let mut c = Client::new(server);
    let r = c.activate(data, email, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(c.login(email, PASSWORD).header("location"), Some("/cases"));
    c
}

/// The finding: with `trust_proxy`, the client address was taken from the
/// first `X-Forwarded-For` line, which the client writes; a proxy that
/// adds its own line let anyone pick a new address per attempt and pass
/// the per-address limit. The last hop across all lines is the proxy's
/// word.
#[test]
fn behind_a_proxy_the_client_is_the_last_hop_of_all_forwarded_lines() {
    let data = Data::sample();
    let server = Server::start(
        &data,
        &[
            ("CPOR_SERVER_TRUST_PROXY", "true"),
            ("CPOR_SERVER_IP_FAILURES_PER_HOUR", "2"),
        ],
    );
    let mut statuses = Vec::new();
    for i in 0..4 {
        let mut c = Source::new(&server, "127.0.0.1");
        c.headers = vec![
            // What the client wrote: a new address each time.
            ("x-forwarded-for".into(), format!("10.9.{i}.1")),
            // What the proxy added: the address it saw.
            ("x-forwarded-for".into(), "203.0.113.7".into()),
        ];
        statuses.push(
            c.login(&format!("user{i}@example.com"), "wrong password!!")
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
}

/// The finding: no `Strict-Transport-Security`, so a first visit typed
/// without https could be taken over. Sent whenever `mail.site_url` is
/// https (the site is served over TLS), on every answer.
#[test]
fn over_https_every_answer_asks_browsers_to_keep_to_https() {
    let data = Data::sample();
    let server = Server::start(&data, &[("CPOR_MAIL_SITE_URL", "https://cpor.example.tw")]);
    let mut c = Client::new(&server);
    for path in ["/login", "/nowhere", "/healthz"] {
        let r = c.get(path);
        let hsts = r.header("strict-transport-security").unwrap_or_default();
        let age: u64 = hsts
            .strip_prefix("max-age=")
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(age >= 365 * 24 * 3600, "{path}: `{hsts}`");
    }
    drop(server);
    // Over plain http (a laptop) it would be wrong: nothing.
    let server = Server::start(&data, &[]);
    let r = Client::new(&server).get("/login");
    assert_eq!(r.header("strict-transport-security"), None);
}

/// The finding: a reset link mailed before a password change still worked
/// after it. Whoever changes the password (the owner, having noticed)
/// voids every pending link.
#[test]
fn a_password_change_voids_pending_reset_links() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = signed_in(&server, &data, WANG);
    let mut anon = Client::new(&server);
    assert_eq!(crate::util::ask_forgot(&mut anon, WANG).status, 200);
    eventually("the reset mail", || data.mails("reset", WANG) == 1);
    let link = data.link("reset", WANG);
    assert!(anon.get(&link).body.contains("帳號："), "the link works");
    let csrf = c.csrf();
    let new = "another long passphrase";
    let r = c.change_password(&csrf, PASSWORD, new);
    assert_eq!(r.header("location"), Some("/account?m=changed"));
    let form = anon.get(&link);
    assert!(form.body.contains("連結無效"), "{}", form.body);
}

/// The finding: before login, the anti-forgery check took any value the
/// client chose, as long as cookie and form agreed — a page elsewhere that
/// can set a cookie (a sibling subdomain over http) could post forms.
/// The token is now the server's: signed with its key.
#[test]
fn a_pre_login_token_of_the_clients_choosing_is_refused() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    c.activate(&data, WANG, PASSWORD);
    let mut forger = Client::new(&server);
    let page = forger.get("/login");
    let id = page.field("captcha_id");
    let chosen = "0123456789abcdef0123456789abcdef";
    forger.cookies.insert("csrf".into(), chosen.into());
    let r = forger.post(
        "/login",
        &[
            ("csrf", chosen),
            ("captcha_id", &id),
            ("captcha", CAPTCHA),
            ("email", WANG),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // The server's own token still works.
    signs_in(&server, WANG, PASSWORD);
}

/// Defence in depth: a browser names the page a form came from in
/// `Origin`; a POST from another site is refused whatever its tokens.
#[test]
fn a_post_from_another_site_is_refused() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    Client::new(&server).activate(&data, WANG, PASSWORD);
    let mut evil = Source::new(&server, "127.0.0.1");
    evil.headers = vec![("origin".into(), "https://evil.example".into())];
    let r = evil.login(WANG, PASSWORD);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.set_cookies().iter().any(|c| c.starts_with("sid=")));
    // The site's own origin (as the browser saw it) is fine.
    let mut own = Source::new(&server, "127.0.0.1");
    own.headers = vec![("origin".into(), server.base.clone())];
    assert_eq!(own.login(WANG, PASSWORD).header("location"), Some("/cases"));
}

/// The architecture review of the fifty-third session (a doubt): the
/// site's origin was cut out of `mail.site_url` as text, so a site_url
/// written `https://CPOR.example.tw:443/` was not the origin a browser
/// names (`https://cpor.example.tw`: lower-case, no default port), and
/// behind a proxy (the Host the server sees is its own) every form was
/// refused 403. The site's address is read once, its origin with it.
#[test]
fn the_sites_origin_is_the_one_a_browser_names_however_site_url_is_written() {
    let data = Data::sample();
    let server = Server::start(
        &data,
        &[("CPOR_MAIL_SITE_URL", "https://CPOR.example.tw:443/")],
    );
    Client::new(&server).activate(&data, WANG, PASSWORD);
    let mut own = Source::new(&server, "127.0.0.1");
    own.headers = vec![("origin".into(), "https://cpor.example.tw".into())];
    let r = own.login(WANG, PASSWORD);
    assert_eq!(r.header("location"), Some("/cases"), "{}", r.body);
    // Another port; and what no browser sends as an origin (a path, no
    // slashes, capitals), which a parser would make the site's.
    for origin in [
        "https://cpor.example.tw:8443",
        "https:cpor.example.tw",
        "https://cpor.example.tw/cases",
        "HTTPS://CPOR.EXAMPLE.TW",
    ] {
        let mut other = Source::new(&server, "127.0.0.1");
        other.headers = vec![("origin".into(), origin.into())];
        assert_eq!(other.login(WANG, PASSWORD).status, 403, "{origin}");
    }
}

/// The mail-links review of the fifty-third session (its 2): a mail
/// client's one-click unsubscribe (RFC 8058) posted from a web mail's page
/// or a sandboxed frame names that page's origin, or `null`, and was
/// refused 403 as another site's form: the reader pressed 取消訂閱 and the
/// mail kept coming. The link's HMAC is its only authority and the POST
/// does the same however often it comes, so that one route takes a POST
/// from anywhere, in the nightly pause too; every other POST is still
/// refused from another origin.
#[test]
fn a_one_click_unsubscribe_from_another_origin_is_answered_and_no_other_post_is() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let paused = Server::start(
        &data,
        &[
            (
                "CPOR_SERVER_MAINTENANCE_START",
                &crate::util::taipei_clock(chrono::Duration::minutes(-1)),
            ),
            (
                "CPOR_SERVER_MAINTENANCE_END",
                &crate::util::taipei_clock(chrono::Duration::minutes(3)),
            ),
        ],
    );
    Client::new(&server).activate(&data, WANG, PASSWORD);
    let link = crate::util::unsubscribe_link(&crate::util::mail_text(&data.newest("digest", WANG)));
    let digests = |on: Option<i64>| -> i64 {
        let db = accounts(&data);
        if let Some(on) = on {
            db.execute(
                "UPDATE accounts SET digests = ?1 WHERE email = ?2",
                (on, WANG),
            )
            .unwrap();
        }
        db.query_row(
            "SELECT digests FROM accounts WHERE email = ?1",
            [WANG],
            |r| r.get(0),
        )
        .unwrap()
    };
    for (at, origin) in [
        (&server, "null"),
        (&server, "https://mail.example.net"),
        (&paused, "null"),
    ] {
        assert_eq!(digests(Some(1)), 1);
        let mut client = Source::new(at, "127.0.0.1");
        client.headers = vec![("origin".into(), origin.into())];
        let r = client.post(&link, &[("List-Unsubscribe", "One-Click")]);
        assert_eq!(r.status, 200, "Origin {origin}: {}", r.body);
        assert_eq!(digests(None), 0, "Origin {origin}");
    }
    // Any other POST from there is refused, whatever its tokens (a login,
    // which from the site's own origin signs in).
    for origin in ["null", "https://mail.example.net", server.base.as_str()] {
        let mut other = Source::new(&server, "127.0.0.1");
        other.headers = vec![("origin".into(), origin.into())];
        let r = other.login(WANG, PASSWORD);
        let signed_in = r.set_cookies().iter().any(|c| c.starts_with("sid="));
        match origin == server.base {
            true => assert!(signed_in, "{}", r.body),
            false => {
                assert_eq!(r.status, 403, "Origin {origin}: {}", r.body);
                assert!(!signed_in);
            }
        }
    }
}

/// The finding: "database is locked" during activation (2 in 45 under
/// load) was shown as "this link is not valid". The link transaction read
/// the token and then wrote, and SQLite does not wait for a lock to
/// upgrade a read; it now takes the write lock first and waits. Here the
/// database is busy with another writer for a second.
#[test]
fn activation_waits_for_a_busy_database_instead_of_blaming_the_link() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    let form = c.get(&data.link("activation", WANG));
    let (csrf, token) = (form.field("csrf"), form.field("token"));
    let busy = accounts(&data);
    busy.execute_batch(
        "BEGIN IMMEDIATE; INSERT INTO daily_visits (day, visits) VALUES ('2000-01-01', 1)",
    )
    .unwrap();
    let r = std::thread::scope(|s| {
        let posting = s.spawn(|| {
            c.post(
                "/activate",
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("password", PASSWORD),
                    ("confirm", PASSWORD),
                ],
            )
        });
        std::thread::sleep(Duration::from_millis(1500));
        busy.execute_batch("COMMIT").unwrap();
        posting.join().unwrap()
    });
    assert_eq!(
        r.header("location"),
        Some("/login?m=activated"),
        "{}",
        r.body
    );
}

/// The finding: the answers warp gives itself (400 for a body that cannot
/// be read, 413 for one too large) lacked the security headers every
/// other answer carries.
#[test]
fn refused_requests_carry_the_security_headers() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let check = |r: &crate::util::Resp, status: u16| {
        assert_eq!(r.status, status, "{}", r.body);
        for h in [
            "content-security-policy",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "cache-control",
        ] {
            assert!(r.header(h).is_some(), "{status} without {h}");
        }
    };
    let mut c = Source::new(&server, "127.0.0.1");
    let big = vec![b'a'; 20 * 1024];
    check(&c.send("POST", "/login", &[], &big), 413);
    // A chunked body that is not chunked.
    let r = crate::util::request_from(
        &server,
        "127.0.0.1",
        "POST",
        "/login",
        &[("transfer-encoding", "chunked")],
        b"zz\r\nnot a chunk\r\n",
    )
    .unwrap();
    check(&r, 400);
}

/// The security review of the website of 2026-12-07 (its 2): a request
/// whose target has no path (`CONNECT host:port`, which hyper passes on)
/// made warp's path filter panic: no answer at all, and a panic in the
/// log each time (60 KB with backtraces on). It is answered 405, with the
/// headers every refusal carries, from any client, and logs no panic.
#[test]
fn a_request_with_no_path_is_refused_not_a_panic() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    for source in ["127.0.0.2", "127.0.0.3"] {
        let mut s = crate::util::connect_from(&server, source).unwrap();
        std::io::Write::write_all(
            &mut s,
            b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
        )
        .unwrap();
        let r = crate::util::read_response(&mut s)
            .unwrap_or_else(|e| panic!("no answer to CONNECT: {e}\n{}", server.log()));
        assert_eq!(r.status, 405, "{}", r.body);
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST, DELETE"));
        for h in [
            "content-security-policy",
            "x-content-type-options",
            "cache-control",
        ] {
            assert!(r.header(h).is_some(), "405 without {h}");
        }
    }
    // The server goes on, and said nothing of a panic.
    assert_eq!(Client::new(&server).get("/login").status, 200);
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

/// The finding: `/metrics` (request counts, login outcomes) answered
/// anyone. It answers the configured addresses only (default: loopback),
/// and looks like any unknown page to the rest.
#[test]
fn metrics_answer_only_the_configured_addresses() {
    let data = Data::sample();
    let server = Server::start(&data, &[("CPOR_SERVER_METRICS_ALLOW", "127.0.0.3, ::1")]);
    let r = Source::new(&server, "127.0.0.1").get("/metrics");
    assert_eq!(r.status, 404, "{}", r.body);
    let r = Source::new(&server, "127.0.0.3").get("/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("cpor_http_requests_total"));
}

/// The finding: case views (who looked at which case, when) were kept
/// for ever. Views older than `server.keep_case_views_days` (default a
/// year) are purged at start-up and daily; their daily counts stay for
/// `cpor-server stats`.
#[test]
fn case_views_older_than_a_year_are_purged_but_still_counted() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    signed_in(&server, &data, LAWYER);
    drop(server);
    let db = accounts(&data);
    let id: i64 = db
        .query_row("SELECT id FROM accounts WHERE email = ?1", [LAWYER], |r| {
            r.get(0)
        })
        .unwrap();
    let now = chrono::Utc::now();
    for (days, n) in [(800, 3), (366, 2), (300, 1), (1, 1)] {
        let at = (now - chrono::Duration::days(days)).to_rfc3339();
        for _ in 0..n {
            db.execute(
                "INSERT INTO case_views (account_id, case_key, at) VALUES (?1, 'TPD|民事|115|訴|100', ?2)",
                rusqlite::params![id, at],
            )
            .unwrap();
        }
    }
    // `stats` counts Taipei days.
    let old_day = (now - chrono::Duration::days(800))
        .with_timezone(&schemas::date::taipei())
        .format("%Y-%m-%d")
        .to_string();
    let _server = Server::start(&data, &[]);
    eventually("old views purged", || {
        db.query_row("SELECT count(*) FROM case_views", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
            == 2
    });
    // Still counted by the statistics, day by day.
    let text = crate::util::stats(&data);
    let line = text
        .lines()
        .find(|l| l.starts_with(&old_day))
        .unwrap_or_else(|| panic!("no line for {old_day}:\n{text}"));
    // day, visits, activated, grants, views, viewers
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((cols[4], cols[5]), ("3", "1"), "{line}");
    // Gone from the file too, not left in its free space (the long-run
    // review of the forty-eighth session found every purged view there,
    // whose account and case, and when).
    let old_at = (now - chrono::Duration::days(800)).to_rfc3339();
    assert!(
        !file_holds(&data.path().join("accounts.sqlite"), old_at.as_bytes()),
        "a purged view's time ({old_at}) is still in accounts.sqlite"
    );
}

/// Whether the database file at `path` (its write-ahead log checkpointed
/// into it first) holds `bytes` anywhere: what deleted rows leave in free
/// space, which anyone with the file (a backup) reads.
fn file_holds(path: &std::path::Path, bytes: &[u8]) -> bool {
    let conn = Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), std::path::PathBuf::from(wal)]
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .any(|file| file.windows(bytes.len()).any(|w| w == bytes))
}

/// The privacy review of the forty-seventh session: a prosecutor's case
/// views and sign-ins (who looked at which case, when) were kept for ever,
/// where an applicant's go after `server.keep_case_views_days`; and link
/// tokens (activation, reset), used or long expired, were never deleted: a
/// lasting history of each account's resets and of activations never taken
/// up. Both are purged at start-up and daily; the prosecutors' daily counts
/// stay for `cpor-server stats`.
#[test]
fn a_prosecutors_views_and_sign_ins_and_dead_links_are_purged_in_time() {
    let data = Data::sample();
    drop(Server::start(&data, &[]));
    let db = accounts(&data);
    db.execute(
        "INSERT INTO prosecutor_accounts (account, subject, email, created_at, last_sign_in_at)
         VALUES ('chen.wm', 's', 'chen.wm@moj.example', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    let pid = db.last_insert_rowid();
    let account: i64 = db
        .query_row("SELECT id FROM accounts WHERE email = ?1", [LAWYER], |r| {
            r.get(0)
        })
        .unwrap();
    let now = chrono::Utc::now();
    let ago = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
    for (days, n) in [(800, 3), (1, 1)] {
        for _ in 0..n {
            db.execute(
                "INSERT INTO prosecutor_case_views (prosecutor_id, case_key, at) VALUES (?1, 'TPD|刑事|115|訴|100', ?2)",
                rusqlite::params![pid, ago(days)],
            )
            .unwrap();
            db.execute(
                "INSERT INTO prosecutor_sign_ins (prosecutor_id, kind, at) VALUES (?1, 'web', ?2)",
                rusqlite::params![pid, ago(days)],
            )
            .unwrap();
        }
    }
    // Links: expired 40 days ago (one used), expired yesterday, still good.
    for (i, (made, expires, used)) in [
        (60, 40, None),
        (60, 40, Some(ago(59))),
        (15, 1, None),
        (1, -13, None),
    ]
    .into_iter()
    .enumerate()
    {
        db.execute(
            "INSERT INTO tokens (hash, account_id, purpose, created_at, expires_at, used_at)
             VALUES (?1, ?2, 'activate', ?3, ?4, ?5)",
            rusqlite::params![vec![i as u8; 32], account, ago(made), ago(expires), used],
        )
        .unwrap();
    }
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let tokens_before = count("SELECT count(*) FROM tokens");
    let old_day = (now - chrono::Duration::days(800))
        .with_timezone(&schemas::date::taipei())
        .format("%Y-%m-%d")
        .to_string();
    let _server = Server::start(&data, &[]);
    eventually("old prosecutor activity purged", || {
        count("SELECT count(*) FROM prosecutor_case_views") == 1
            && count("SELECT count(*) FROM prosecutor_sign_ins") == 1
    });
    eventually("dead links deleted", || {
        count("SELECT count(*) FROM tokens") == tokens_before - 2
    });
    assert_eq!(
        count("SELECT count(*) FROM tokens WHERE hash IN (x'0202020202020202020202020202020202020202020202020202020202020202', x'0303030303030303030303030303030303030303030303030303030303030303')"),
        2,
        "a link expired yesterday, and one still good, stay"
    );
    // Still counted by the statistics, day by day.
    let text = crate::util::stats(&data);
    let line = text
        .lines()
        .find(|l| l.starts_with(&old_day))
        .unwrap_or_else(|| panic!("no line for {old_day}:\n{text}"));
    // day, visits, activated, grants, views, viewers, p.sign-ins, p.views
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((cols[6], cols[7]), ("3", "3"), "{line}");
}

/// Password-link mail to `WANG` queued through the outbox's own
/// operations `days` ago each, and their ids in that order, with the
/// outbox open.
fn website_mail_queued(
    data: &Data,
    days: &[i64],
    now: chrono::DateTime<chrono::Utc>,
) -> (mail::outbox::Outbox, Vec<i64>) {
    use mail::outbox::{self, Kind, NewItem, Outbox, Packed, Scope};
    let conn = outbox::open(&data.path()).unwrap();
    for (i, days) in days.iter().enumerate() {
        let item = NewItem {
            email: WANG.into(),
            kind: Kind::Reset,
            message_id: format!("<queued-{i}@cpor.test>"),
            subject: "重設密碼".into(),
            // (the link first, the rest of a message after it: what a
            // shorter record written over it leaves)
            message: Packed::plain(
                format!(
                    "reset link /reset?token={i:064}\r\n{}",
                    "This message was sent automatically; do not reply.\r\n".repeat(20)
                )
                .into_bytes(),
            ),
            cases: 0,
            case_keys: Vec::new(),
            behind: None,
        };
        let at = now - chrono::Duration::days(*days);
        outbox::queue_website(&conn, &item, at.date_naive(), &format!("q{i}"), at).unwrap();
    }
    let ob = Outbox::open(&data.path()).unwrap();
    let due = ob.due(Scope::Website, now, true).unwrap();
    let ids = (0..days.len())
        .map(|i| {
            let mid = format!("<queued-{i}@cpor.test>");
            due.iter()
                .copied()
                .find(|id| {
                    ob.show(*id)
                        .unwrap()
                        .unwrap()
                        .fields
                        .iter()
                        .any(|(k, v)| *k == "message-id" && *v == mid)
                })
                .unwrap()
        })
        .collect();
    (ob, ids)
}

/// The privacy review of the forty-seventh session: only sent mail had
/// its text emptied after `server.keep_sent_mail_days`; mail that never
/// went kept its text for ever, and a flagged address's nightly digests,
/// rendered and suppressed, piled up (a year of nights, 365 digests with
/// parties' names). Mail failed or suppressed is emptied the same days
/// after it was queued (a retry of it long after would tell old news);
/// newer keeps its text, and its record stays.
#[test]
fn bodies_of_mail_that_never_went_are_purged_in_time_too() {
    use mail::outbox::{Event, Outbox, Recorded, Scope};
    let data = Data::sample();
    let now = chrono::Utc::now();
    // Through the outbox's own operations, queued 40, 40 and 5 days ago:
    // one suppressed at its claim (a flagged address), two refused (5xx).
    let (mut ob, ids) = website_mail_queued(&data, &[40, 40, 5], now);
    let (suppressed, refused, recent) = (ids[0], ids[1], ids[2]);
    ob.claim(&[suppressed], now - chrono::Duration::days(40), |_| {
        Some(Event::Suppress)
    })
    .unwrap();
    for (id, days) in [(refused, 40), (recent, 5)] {
        let at = now - chrono::Duration::days(days);
        ob.claim(&[id], at, |_| Some(Event::Claim)).unwrap();
        let no = Recorded {
            id,
            event: Event::Refused,
            error: Some("550 no such user".into()),
            next_try: None,
            unknown_outcome: false,
        };
        ob.record(&no, at).unwrap();
    }
    ob.settle(Scope::Website).unwrap();
    drop(ob);

    let _server = Server::start(&data, &[]);
    let ob = Outbox::open(&data.path()).unwrap();
    let empty = |id: i64| ob.show(id).unwrap().unwrap().message.unwrap().is_empty();
    let state = |id: i64| {
        let shown = ob.show(id).unwrap().unwrap();
        let (_, v) = shown.fields.iter().find(|(k, _)| *k == "state").unwrap();
        v.clone()
    };
    assert_eq!(
        (state(suppressed), state(refused)),
        ("suppressed".into(), "failed".into())
    );
    eventually("the old unsent bodies purged", || {
        empty(suppressed) && empty(refused)
    });
    assert!(!empty(recent), "five days old: kept for a retry");
    assert_eq!(
        (state(suppressed), state(refused), state(recent)),
        ("suppressed".into(), "failed".into(), "failed".into()),
        "the records stay"
    );
}

/// The finding: the outbox kept every sent message whole, activation and
/// reset links included, for ever. Sent bodies older than
/// `server.keep_sent_mail_days` (default 30) are emptied at start-up and
/// daily; the record of each message (who, what kind, when, the outcome)
/// stays, and newer or unsent mail keeps its body.
#[test]
fn sent_mail_bodies_older_than_30_days_are_purged_but_their_record_kept() {
    use mail::outbox::{self, Event, Outbox, Recorded, Scope};
    let data = Data::sample();
    let now = chrono::Utc::now();
    // Through the outbox's own operations: queued, claimed and accepted
    // by the mail server 40 days ago and 1 day ago; one still queued.
    let (mut ob, ids) = website_mail_queued(&data, &[40, 1, 0], now);
    let (old, recent, queued) = (ids[0], ids[1], ids[2]);
    for (id, days) in [(old, 40), (recent, 1)] {
        let at = now - chrono::Duration::days(days);
        ob.claim(&[id], at, |_| Some(Event::Claim)).unwrap();
        let accepted = Recorded {
            id,
            event: Event::Accepted,
            error: None,
            next_try: None,
            unknown_outcome: false,
        };
        ob.record(&accepted, at).unwrap();
    }
    ob.settle(Scope::Website).unwrap();
    drop(ob);
    // (in the file, as a month's mail is by the time it is purged)
    let link = format!("/reset?token={}", "0".repeat(64));
    assert!(file_holds(
        &data.path().join("outbox.sqlite"),
        link.as_bytes()
    ));

    let _server = Server::start(&data, &[]);
    let ob = Outbox::open(&data.path()).unwrap();
    let state = |shown: &outbox::Shown| {
        let (_, v) = shown.fields.iter().find(|(k, _)| *k == "state").unwrap();
        v.clone()
    };
    eventually("the old body purged", || {
        ob.show(old).unwrap().unwrap().message.unwrap().is_empty()
    });
    let shown = ob.show(old).unwrap().unwrap();
    assert_eq!(state(&shown), "sent", "the record stays");
    assert!(shown
        .fields
        .iter()
        .any(|(k, v)| *k == "address" && v == WANG));
    for id in [recent, queued] {
        let body = ob.show(id).unwrap().unwrap().message.unwrap();
        assert!(
            String::from_utf8_lossy(&body).contains("/reset?token="),
            "item {id} lost its body"
        );
    }
    // Gone from the file too, not left in its free space (the long-run
    // review of the forty-eighth session recovered whole activation mail
    // from emptied items).
    drop(ob);
    assert!(
        !file_holds(&data.path().join("outbox.sqlite"), link.as_bytes()),
        "the purged body's link is still in outbox.sqlite"
    );
}
