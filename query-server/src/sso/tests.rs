//! The relying party against the real provider (scripts/oidc-provider/),
//! one provider process per test: every rule of the issue has a test here
//! that fails if the rule is removed.

use std::collections::BTreeMap;
use std::time::Duration;

use openidconnect::url::Url;

use super::provider_harness::{Browser, Op, APP_CLIENT_ID, CLIENT_ID, CLIENT_SECRET, REDIRECT};
use super::*;

const KEY: [u8; 32] = [9; 32];

fn settings(op: &Op) -> SsoSettings {
    SsoSettings {
        issuer: op.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_url: Url::parse(REDIRECT).unwrap(),
        post_logout_redirect_url: Url::parse("http://127.0.0.1:8080/").unwrap(),
        scopes: vec!["email".into(), "moj".into()],
        account_claim: "moj_account".into(),
        required_claims: BTreeMap::from([("role".to_string(), "prosecutor".to_string())]),
        app_client_id: Some(APP_CLIENT_ID.into()),
        subjects: store::accounts::prosecutors::Subjects::Public,
        ca_file: None,
        discovery_refresh: Duration::from_secs(3600),
    }
}

fn sso(op: &Op) -> Sso {
    sso_with(op, |_| {})
}

fn sso_with(op: &Op, tweak: impl FnOnce(&mut SsoSettings)) -> Sso {
    let mut s = settings(op);
    tweak(&mut s);
    let mut sso = Sso::new(s, &KEY).unwrap();
    // Each test's provider is its own: no need to spare it refetches.
    sso.key_refresh_every = Duration::ZERO;
    sso
}

/// A browser's whole sign-in: begin, the provider's login, the callback.
fn sign_in(sso: &Sso, browser: &mut Browser, user: &str) -> Result<SignIn, SsoError> {
    let begin = sso.begin("/cases")?;
    let back = browser
        .sign_in(&begin.redirect, user, REDIRECT)
        .unwrap_or_else(|e| panic!("{e}"));
    sso.finish(
        &Callback::from_query(back.query().unwrap_or("")),
        Some(&begin.flow_cookie),
    )
}

fn query_with(url: &Url, name: &str, value: Option<&str>) -> String {
    let mut q = openidconnect::url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url.query_pairs().filter(|(k, _)| k != name) {
        q.append_pair(&k, &v);
    }
    if let Some(v) = value {
        q.append_pair(name, v);
    }
    q.finish()
}

#[track_caller]
fn refused(r: Result<SignIn, SsoError>) -> SsoError {
    match r {
        Ok(s) => panic!(
            "signed in as {} but should have been refused",
            s.identity.account
        ),
        Err(e) => e,
    }
}

#[test]
fn a_prosecutor_signs_in_and_returns_where_they_started() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let s = sign_in(&sso, &mut Browser::default(), "chen.wm").unwrap();
    assert_eq!(s.identity.account, "chen.wm");
    assert_eq!(s.identity.subject, "chen.wm");
    assert_eq!(
        s.identity.email_verified.as_deref(),
        Some("chen.wm@moj.example")
    );
    // The provider keeps scope claims for userinfo: they came from there.
    assert_eq!(s.identity.claims["role"], "prosecutor");
    assert_eq!(s.return_to, "/cases");
    assert!(s.identity.id_token.split('.').count() == 3);
}

#[test]
fn claims_in_the_id_token_need_no_userinfo() {
    let op = Op::start(&["--id-token-claims"]);
    let sso = sso(&op);
    let s = sign_in(&sso, &mut Browser::default(), "kuo_jl-02").unwrap();
    assert_eq!(s.identity.account, "kuo_jl-02");
    // The ID token itself names the account.
    let payload = s.identity.id_token.split('.').nth(1).unwrap();
    assert!(String::from_utf8_lossy(&base64url(payload)).contains("\"moj_account\":\"kuo_jl-02\""));
}

fn base64url(s: &str) -> Vec<u8> {
    // Enough of a decoder to look inside a JWT in a test.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        bits = (bits << 6) | A.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn the_account_can_be_the_subject_and_an_unverified_email_is_not_taken() {
    let op = Op::start(&[]);
    let sso = sso_with(&op, |s| s.account_claim = "sub".into());
    let s = sign_in(&sso, &mut Browser::default(), "tsai.mh").unwrap();
    assert_eq!(s.identity.account, "tsai.mh");
    assert_eq!(s.identity.claims["email"], "tsai.mh@moj.example");
    assert_eq!(s.identity.email_verified, None, "email_verified is false");
}

#[test]
fn an_account_claim_that_cannot_be_a_prosecutor_account_is_refused() {
    let op = Op::start(&[]);
    let sso = sso_with(&op, |s| s.account_claim = "email".into());
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::InvalidAccount { value, .. } if value == "chen.wm@moj.example"),
        "{e}"
    );
}

#[test]
fn a_missing_or_mismatching_required_claim_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let e = refused(sign_in(&sso, &mut Browser::default(), "clerk.wu"));
    assert!(
        matches!(&e, SsoError::ClaimMismatch(c) if c == "role"),
        "{e}"
    );
    assert_eq!(e.status(), 403);
    let e = refused(sign_in(&sso, &mut Browser::default(), "guest.ho"));
    assert!(
        matches!(&e, SsoError::MissingClaim(c) if c == "role"),
        "{e}"
    );
    // The account claim itself is required too.
    let sso = sso_with(&op, |s| s.account_claim = "employee_number".into());
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::MissingClaim(c) if c == "employee_number"),
        "{e}"
    );
}

#[test]
fn an_account_unknown_to_the_export_still_gets_an_identity_for_the_caller_to_refuse() {
    // The provider vouches for nobody.x; whether the export knows the
    // account is the caller's check against the live snapshot.
    let op = Op::start(&[]);
    let s = sign_in(&sso(&op), &mut Browser::default(), "nobody.x").unwrap();
    assert_eq!(s.identity.account, "nobody.x");
    let e = SsoError::UnknownAccount(s.identity.account);
    assert_eq!(e.status(), 403);
    assert!(e.user_message().contains("查無"));
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    sso.refresh().unwrap();
    op.admin("issuer", &format!("value={}/elsewhere", op.issuer));
    // The callback says so (RFC 9207's iss).
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::WrongIssuer(m) if m.starts_with("callback iss")),
        "{e}"
    );
    // A callback whose iss was made to look right: the ID token says so.
    let begin = sso.begin("/").unwrap();
    let back = Browser::default()
        .sign_in(&begin.redirect, "chen.wm", REDIRECT)
        .unwrap();
    let q = query_with(&back, "iss", Some(&op.issuer));
    let e = refused(sso.finish(&Callback::from_query(&q), Some(&begin.flow_cookie)));
    assert!(
        matches!(&e, SsoError::WrongIssuer(m) if m.contains("elsewhere")),
        "{e}"
    );
    // A provider that promises iss must send it.
    let begin = sso.begin("/").unwrap();
    let back = Browser::default()
        .sign_in(&begin.redirect, "chen.wm", REDIRECT)
        .unwrap();
    let q = query_with(&back, "iss", None);
    let e = refused(sso.finish(&Callback::from_query(&q), Some(&begin.flow_cookie)));
    assert!(
        matches!(&e, SsoError::WrongIssuer(m) if m == "callback without iss"),
        "{e}"
    );
    // And a discovery document naming another issuer is not used at all.
    let fresh = sso_with(&op, |_| {});
    let e = fresh.begin("/").unwrap_err();
    assert!(matches!(&e, SsoError::WrongIssuer(_)), "{e}");
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    op.admin("id-token", "aud=someone-else");
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(matches!(&e, SsoError::WrongAudience(_)), "{e}");
    // Our audience among others we do not trust: refused as well.
    op.admin("id-token", "aud=%5B%22cpor%22%2C%22someone-else%22%5D");
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::WrongAudience(m) if m.contains("not a trusted audience")),
        "{e}"
    );
    // The override machinery itself leaves a right token right.
    op.admin("id-token", "aud=cpor");
    sign_in(&sso, &mut Browser::default(), "chen.wm").unwrap();
}

#[test]
fn a_forged_signature_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    sso.refresh().unwrap();
    op.admin("sign-forged", "");
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(matches!(&e, SsoError::BadSignature(_)), "{e}");
}

#[test]
fn a_token_signed_by_a_key_the_provider_does_not_publish_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    sso.refresh().unwrap();
    assert_eq!(sso.key_fetches(), 1);
    op.admin("sign-unpublished", "");
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::BadSignature(m) if m.contains("No matching key")),
        "{e}"
    );
    assert_eq!(
        sso.key_fetches(),
        2,
        "the keys were fetched again before refusing"
    );
}

#[test]
fn a_rotated_signing_key_is_picked_up_from_the_key_set() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    sign_in(&sso, &mut Browser::default(), "chen.wm").unwrap();
    assert_eq!(sso.key_fetches(), 1);
    // A new key, the old one still published.
    op.admin("rotate", "keep_old=1");
    sign_in(&sso, &mut Browser::default(), "lin_yt-01").unwrap();
    assert_eq!(sso.key_fetches(), 2);
    // Known keys cost no fetch.
    sign_in(&sso, &mut Browser::default(), "lin_yt-01").unwrap();
    assert_eq!(sso.key_fetches(), 2);
    // A new key, the old one withdrawn.
    op.admin("rotate", "keep_old=0");
    sign_in(&sso, &mut Browser::default(), "tsai.mh").unwrap();
    assert_eq!(sso.key_fetches(), 3);
}

#[test]
fn key_fetches_for_unknown_keys_are_rate_limited() {
    let op = Op::start(&[]);
    let mut sso = sso(&op);
    sso.key_refresh_every = Duration::from_secs(3600);
    sign_in(&sso, &mut Browser::default(), "chen.wm").unwrap();
    op.admin("sign-unpublished", "");
    refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert_eq!(sso.key_fetches(), 2, "one refetch, then none");
}

#[test]
fn an_expired_token_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let now = Utc::now().timestamp();
    // Expired two minutes ago: past the minute of clock skew allowed.
    op.admin("id-token", &format!("exp={}", now - 120));
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::Expired(m) if m.contains("expired at")),
        "{e}"
    );
    // Within the skew: accepted.
    op.admin("id-token", &format!("exp={}", now - 20));
    sign_in(&sso, &mut Browser::default(), "chen.wm").unwrap();
}

#[test]
fn a_token_issued_long_before_the_flow_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let now = Utc::now().timestamp();
    // Still valid by its exp, but issued an hour ago: not for this flow.
    op.admin("id-token", &format!("iat={}", now - 3600));
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::Expired(m) if m.contains("too long ago")),
        "{e}"
    );
    // Or in the future.
    op.admin("id-token", &format!("iat={}", now + 600));
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(
        matches!(&e, SsoError::Expired(m) if m.contains("future")),
        "{e}"
    );
}

#[test]
fn a_provider_clock_far_behind_gives_expired_tokens() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    sso.refresh().unwrap();
    // The provider's clock two hours behind: its one-hour ID tokens expired
    // an hour ago.
    op.admin("clock", "offset=-7200");
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(matches!(&e, SsoError::Expired(_)), "{e}");
}

#[test]
fn a_replayed_callback_or_authorisation_request_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let mut browser = Browser::default();
    let begin = sso.begin("/").unwrap();
    let back = browser
        .sign_in(&begin.redirect, "chen.wm", REDIRECT)
        .unwrap();
    let cb = Callback::from_query(back.query().unwrap());
    sso.finish(&cb, Some(&begin.flow_cookie)).unwrap();
    // The same callback again.
    let e = refused(sso.finish(&cb, Some(&begin.flow_cookie)));
    assert!(matches!(e, SsoError::Replayed), "{e}");
    // The same authorisation request again: the provider, still signed in,
    // answers at once with a fresh code for the same state and nonce.
    let again = browser
        .sign_in(&begin.redirect, "chen.wm", REDIRECT)
        .unwrap();
    assert_ne!(again, back, "a new code");
    let e = refused(sso.finish(
        &Callback::from_query(again.query().unwrap()),
        Some(&begin.flow_cookie),
    ));
    assert!(matches!(e, SsoError::Replayed), "{e}");
}

#[test]
fn a_nonce_from_another_flow_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let mine = sso.begin("/").unwrap();
    let other = sso.begin("/").unwrap();
    let other_nonce = other
        .redirect
        .query_pairs()
        .find(|(k, _)| k == "nonce")
        .unwrap()
        .1
        .into_owned();
    let mut url = mine.redirect.clone();
    let q = query_with(&url, "nonce", Some(&other_nonce));
    url.set_query(Some(&q));
    let back = Browser::default()
        .sign_in(&url, "chen.wm", REDIRECT)
        .unwrap();
    let e = refused(sso.finish(
        &Callback::from_query(back.query().unwrap()),
        Some(&mine.flow_cookie),
    ));
    assert!(matches!(e, SsoError::NonceMismatch(_)), "{e}");
}

#[test]
fn a_callback_not_started_by_this_browser_is_refused() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let theirs = sso.begin("/").unwrap();
    let mine = sso.begin("/").unwrap();
    let back = Browser::default()
        .sign_in(&theirs.redirect, "chen.wm", REDIRECT)
        .unwrap();
    let cb = Callback::from_query(back.query().unwrap());
    // Another browser's callback, with my flow cookie.
    let e = refused(sso.finish(&cb, Some(&mine.flow_cookie)));
    assert!(matches!(e, SsoError::StateMismatch), "{e}");
    // No flow cookie at all, or a forged one.
    let e = refused(sso.finish(&cb, None));
    assert!(matches!(e, SsoError::NoFlow(_)), "{e}");
    let forged = theirs.flow_cookie.replace('1', "2");
    let e = refused(sso.finish(&cb, Some(&forged)));
    assert!(matches!(e, SsoError::NoFlow(_)), "{e}");
    // A flow sealed under another data directory's key.
    let elsewhere = Sso::new(settings(&op), &[1; 32]).unwrap();
    let e = refused(elsewhere.finish(&cb, Some(&theirs.flow_cookie)));
    assert!(matches!(e, SsoError::NoFlow(_)), "{e}");
    // The right pair still works: none of the above consumed it.
    sso.finish(&cb, Some(&theirs.flow_cookie)).unwrap();
}

#[test]
fn the_callback_is_not_an_open_redirect() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let begin = sso.begin(evil).unwrap();
        let back = Browser::default()
            .sign_in(&begin.redirect, "chen.wm", REDIRECT)
            .unwrap();
        let s = sso
            .finish(
                &Callback::from_query(back.query().unwrap()),
                Some(&begin.flow_cookie),
            )
            .unwrap();
        assert_eq!(s.return_to, "/", "{evil}");
    }
    // The provider is sent to the configured redirect URL, whatever asked.
    let begin = sso.begin("https://evil.example/").unwrap();
    let redirect_uri = begin
        .redirect
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(redirect_uri, REDIRECT);
}

#[test]
fn the_authorisation_request_uses_pkce_s256_state_and_nonce() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let begin = sso.begin("/").unwrap();
    let q: BTreeMap<String, String> = begin.redirect.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["scope"], "openid email moj");
    assert_eq!(q["state"].len(), 64);
    assert_eq!(q["nonce"].len(), 64);
    assert_eq!(q["code_challenge"].len(), 43);
    // The verifier never leaves the server: not in the URL, not in the cookie.
    assert!(!begin.flow_cookie.contains(&q["state"]));
    assert!(!begin.flow_cookie.contains(&q["nonce"]));
}

#[test]
fn a_cancelled_sign_in_is_refused_with_its_reason() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let begin = sso.begin("/").unwrap();
    let back = Browser::default().cancel(&begin.redirect, REDIRECT);
    let e = refused(sso.finish(
        &Callback::from_query(back.query().unwrap()),
        Some(&begin.flow_cookie),
    ));
    assert!(
        matches!(&e, SsoError::Denied { error, .. } if error == "access_denied"),
        "{e}"
    );
    assert_eq!(e.user_message(), "您已在法務部單一登入取消登入。");
}

#[test]
fn a_provider_that_is_down_is_unavailable() {
    let op = Op::start(&[]);
    let sso = sso_with(&op, |s| s.issuer = "http://127.0.0.1:9".into());
    let e = sso.begin("/").unwrap_err();
    assert!(matches!(e, SsoError::Unavailable(_)), "{e}");
    assert_eq!(e.status(), 503);
}

/// A listener on loopback that takes each connection and says nothing
/// for `hold`: its port, and how many connections it took.
fn hanging_listener(hold: Duration) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    std::thread::spawn(move || {
        for conn in listener.incoming().take(100) {
            let Ok(mut conn) = conn else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                conn.set_read_timeout(Some(hold)).unwrap();
                let mut buf = [0u8; 1024];
                let deadline = Instant::now() + hold;
                while Instant::now() < deadline {
                    if matches!(conn.read(&mut buf), Ok(0)) {
                        break;
                    }
                }
            });
        }
    });
    (port, asked)
}

/// The thirty-seventh session's security review (its 4): while the
/// provider was down, every sign-in fetched its discovery document again,
/// each a connection that could hang for the HTTP timeout (10 s) on a
/// blocking thread shared with applicants' logins, so a flood of
/// `/sso/login` during an outage held those threads. Now one request at a
/// time asks the provider; the others answer at once with what is cached,
/// or, with nothing cached, once that fetch ends (`FIRST_FETCH_WAIT` at
/// most); and after a failure nobody asks for `RETRY_DISCOVERY`.
#[test]
fn a_provider_that_hangs_is_asked_once_while_sign_ins_pour_in() {
    let op = Op::start(&[]);
    // A provider that takes each connection and says nothing for 2 s.
    let (port, asked) = hanging_listener(Duration::from_secs(2));
    let sso = Arc::new(sso_with(&op, |s| {
        s.issuer = format!("http://127.0.0.1:{port}");
    }));
    let started = Instant::now();
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let sso = Arc::clone(&sso);
            std::thread::spawn(move || {
                let t = Instant::now();
                let e = sso.begin("/").unwrap_err();
                (t.elapsed(), e)
            })
        })
        .collect();
    let answers: Vec<(Duration, SsoError)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(started.elapsed() < Duration::from_secs(8));
    for (_, e) in &answers {
        assert!(matches!(e, SsoError::Unavailable(_)), "{e}");
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1, "asked once: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|(t, _)| *t < Duration::from_millis(2800)),
        "none waits past the one fetch: {answers:?}"
    );
    // Just after the failure: nobody asks, the answer is at once.
    let t = Instant::now();
    assert!(matches!(sso.begin("/"), Err(SsoError::Unavailable(_))));
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(asked.load(Ordering::SeqCst), 1, "not asked again at once");
}

/// A review of the sign-on (2026-12-05): every callback with a state of
/// its own (`/sso/login` gives one to anyone) made cpor call the
/// provider's token endpoint, as many at once as came, each on a blocking
/// thread the applicants' logins share for as long as the provider took:
/// a flood of forged callbacks hammered the Ministry's provider with
/// cpor's client secret and held those threads. At most
/// `MAX_PROVIDER_CALLS` are made at once; the rest are refused at once,
/// 503; and for `RETRY_DISCOVERY` after the provider failed to answer,
/// none is made.
#[test]
fn forged_callbacks_cannot_make_the_provider_be_called_without_bound() {
    let op = Op::start(&[]);
    let sso = Arc::new(sso(&op));
    let begins: Vec<Begin> = (0..20).map(|_| sso.begin("/").unwrap()).collect();
    // The token endpoint now hangs 3 s on each connection, counted.
    let (port, asked) = hanging_listener(Duration::from_secs(3));
    {
        let mut d = sso.discovered.write().unwrap();
        let mut metadata = d.as_ref().unwrap().metadata.clone();
        metadata = metadata.set_token_endpoint(Some(
            openidconnect::TokenUrl::new(format!("http://127.0.0.1:{port}/token")).unwrap(),
        ));
        *d = Some(Arc::new(Discovered {
            metadata,
            at: Instant::now(),
        }));
    }
    let threads: Vec<_> = begins
        .into_iter()
        .map(|b| {
            let sso = Arc::clone(&sso);
            let issuer = op.issuer.clone();
            std::thread::spawn(move || {
                let state = b
                    .redirect
                    .query_pairs()
                    .find(|(k, _)| k == "state")
                    .map(|(_, v)| v.into_owned());
                let callback = Callback {
                    code: Some("forged".into()),
                    state,
                    iss: Some(issuer),
                    ..Callback::default()
                };
                let t = Instant::now();
                let e = sso.finish(&callback, Some(&b.flow_cookie)).err().unwrap();
                (t.elapsed(), e)
            })
        })
        .collect();
    let answers: Vec<(Duration, SsoError)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (_, e) in &answers {
        assert!(matches!(e, SsoError::Unavailable(_)), "{e}");
    }
    let called = asked.load(Ordering::SeqCst);
    assert!(called <= MAX_PROVIDER_CALLS, "{called} calls at once");
    let at_once = answers
        .iter()
        .filter(|(t, _)| *t < Duration::from_millis(500))
        .count();
    assert!(at_once >= 20 - MAX_PROVIDER_CALLS, "{answers:?}");
    // The provider failed to answer: for a while nobody calls it.
    let b = sso.begin("/").unwrap();
    let callback = Callback {
        code: Some("forged".into()),
        state: b
            .redirect
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned()),
        iss: Some(op.issuer.clone()),
        ..Callback::default()
    };
    let t = Instant::now();
    let e = sso.finish(&callback, Some(&b.flow_cookie)).err().unwrap();
    assert!(matches!(e, SsoError::Unavailable(_)), "{e}");
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(
        asked.load(Ordering::SeqCst),
        called,
        "not called again at once"
    );
}

/// The review of the session's change: the pause after a call that got no
/// answer also followed a userinfo call the provider answered with an
/// error (a 401 for a bad access token, which an app can send at will):
/// every prosecutor's sign-in was refused for 10 s. Only a call that got
/// no answer pauses them.
#[test]
fn a_provider_that_answers_with_an_error_is_not_taken_for_one_that_is_down() {
    use std::io::{Read, Write};
    let op = Op::start(&[]);
    let sso = sso(&op);
    sso.begin("/").unwrap();
    // A userinfo endpoint that answers 401 at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(20) {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let original = sso.current().unwrap();
    let swap = |metadata: Metadata| {
        *sso.discovered.write().unwrap() = Some(Arc::new(Discovered {
            metadata,
            at: Instant::now(),
        }));
    };
    swap(original.metadata.clone().set_userinfo_endpoint(Some(
        openidconnect::UserInfoUrl::new(format!("http://127.0.0.1:{port}/me")).unwrap(),
    )));
    let e = refused(sign_in(&sso, &mut Browser::default(), "chen.wm"));
    assert!(!matches!(e, SsoError::Unavailable(_)), "{e}");
    swap(original.metadata.clone());
    sign_in(&sso, &mut Browser::default(), "chen.wm").expect("no pause after an answer");
}

/// The review of the session's change: a sign-in refused because every
/// call to the provider was taken had used up its flow first, so the
/// prosecutor could not finish it again (`Replayed`) and had to start over.
/// The call is taken before the flow is used.
#[test]
fn a_sign_in_refused_while_the_provider_is_busy_can_be_finished_again() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let begin = sso.begin("/cases").unwrap();
    let back = Browser::default()
        .sign_in(&begin.redirect, "chen.wm", REDIRECT)
        .unwrap_or_else(|e| panic!("{e}"));
    let callback = Callback::from_query(back.query().unwrap_or(""));
    sso.calls.fetch_add(MAX_PROVIDER_CALLS, Ordering::SeqCst);
    let busy = sso.finish(&callback, Some(&begin.flow_cookie));
    sso.calls.fetch_sub(MAX_PROVIDER_CALLS, Ordering::SeqCst);
    assert!(matches!(busy, Err(SsoError::Unavailable(_))), "{busy:?}");
    sso.finish(&callback, Some(&begin.flow_cookie))
        .expect("finished once the provider is free");
}

/// A review of the sign-on (2026-12-05): the HTTP timeout (10 s) did not
/// cover connecting, for which ureq waits 30 s of its own: a provider
/// whose host drops connection attempts (a firewall, a host gone) held
/// each fetch three times as long as SSO.md says. A listener whose one
/// place in its queue is taken leaves the next connection hanging.
#[test]
fn a_provider_that_never_answers_the_connection_is_given_up_on_within_the_timeout() {
    let op = Op::start(&[]);
    use socket2::{Domain, Socket, Type};
    let full = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    full.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    full.listen(0).unwrap();
    let addr = full.local_addr().unwrap().as_socket().unwrap();
    let mut taken = Vec::new();
    // Connections that the listener never accepts fill its queue.
    for _ in 0..4 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(c) => taken.push(c),
            Err(_) => break,
        }
    }
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the queue is full: a connection hangs"
    );
    let sso = sso_with(&op, |s| s.issuer = format!("http://{addr}"));
    let t = Instant::now();
    let e = sso.begin("/").unwrap_err();
    assert!(matches!(e, SsoError::Unavailable(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(12), "{:?}", t.elapsed());
    drop((full, taken));
}

/// The review of that change: a sign-in that came while another was
/// fetching the metadata for the first time (a process just started) was
/// refused at once, 503. With nothing cached it now waits a little for
/// that fetch.
#[test]
fn sign_ins_at_the_first_fetch_wait_for_it() {
    let op = Op::start(&[]);
    let sso = Arc::new(sso(&op));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let sso = Arc::clone(&sso);
            std::thread::spawn(move || sso.begin("/").map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(sso.key_fetches.load(Ordering::SeqCst), 1, "fetched once");
}

#[test]
fn logout_goes_through_the_providers_end_session_endpoint() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    assert!(sso.logout_url(None).is_none(), "nothing discovered yet");
    let mut browser = Browser::default();
    let s = sign_in(&sso, &mut browser, "chen.wm").unwrap();
    let url = sso.logout_url(Some(&s.identity.id_token)).unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/session/end?", op.issuer)),
        "{url}"
    );
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["id_token_hint"], s.identity.id_token);
    assert_eq!(q["post_logout_redirect_uri"], "http://127.0.0.1:8080/");
    // The provider accepts the hint and the return address: it asks to
    // confirm, then sends the browser back to us.
    let page = browser.get(&url);
    assert_eq!(page.status, 200, "{}", page.body);
    let xsrf = page
        .body
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the provider's logout form");
    let confirm = Url::parse(&format!("{}/session/end/confirm", op.issuer)).unwrap();
    let done = browser.post(&confirm, &[("xsrf", xsrf), ("logout", "yes")]);
    assert_eq!(
        done.location.map(|l| l.to_string()).as_deref(),
        Some("http://127.0.0.1:8080/")
    );
}

/// The app's own code flow at the provider (RFC 8252: a public client,
/// loopback redirect, PKCE), with a nonce from us; returns its ID token and
/// access token.
fn app_code_flow(op: &Op, nonce: &str) -> (String, String) {
    let verifier = "a".repeat(43) + "-app-verifier";
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
    let redirect = "http://127.0.0.1:51234/callback";
    let mut auth = Url::parse(&format!("{}/auth", op.issuer)).unwrap();
    auth.query_pairs_mut()
        .append_pair("client_id", APP_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email moj")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "app-state")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let back = Browser::default()
        .sign_in(&auth, "chen.wm", redirect)
        .unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: serde_json::Value = ureq::post(&format!("{}/token", op.issuer))
        .send_form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", APP_CLIENT_ID),
            ("code_verifier", &verifier),
        ])
        .unwrap()
        .into_json()
        .unwrap();
    (
        tokens["id_token"].as_str().unwrap().to_string(),
        tokens["access_token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_native_app_exchanges_its_id_token_once() {
    let op = Op::start(&[]);
    let sso = sso(&op);
    let n = sso.native_nonce().unwrap();
    let (id_token, access_token) = app_code_flow(&op, &n.nonce);
    let identity = sso
        .exchange_native(&id_token, &n.ticket, Some(&access_token))
        .unwrap();
    assert_eq!(identity.account, "chen.wm");
    let e = sso
        .exchange_native(&id_token, &n.ticket, Some(&access_token))
        .unwrap_err();
    assert!(matches!(e, SsoError::Replayed), "{e}");
    // Another ticket's nonce.
    let other = sso.native_nonce().unwrap();
    let e = sso
        .exchange_native(&id_token, &other.ticket, Some(&access_token))
        .unwrap_err();
    assert!(matches!(e, SsoError::NonceMismatch(_)), "{e}");
    // The web client's ID token is not the app's.
    let web = sign_in(&sso, &mut Browser::default(), "chen.wm").unwrap();
    let fresh = sso.native_nonce().unwrap();
    let e = sso
        .exchange_native(&web.identity.id_token, &fresh.ticket, None)
        .unwrap_err();
    assert!(matches!(e, SsoError::WrongAudience(_)), "{e}");
    // A web flow cookie is no ticket.
    let begin = sso.begin("/").unwrap();
    let e = sso
        .exchange_native(&id_token, &begin.flow_cookie, None)
        .unwrap_err();
    assert!(matches!(e, SsoError::NoFlow(_)), "{e}");
    // Off unless configured.
    let off = sso_with(&op, |s| s.app_client_id = None);
    assert!(matches!(off.native_nonce(), Err(SsoError::NativeDisabled)));
}

#[test]
fn every_refusal_has_a_message_in_traditional_chinese() {
    let all = [
        SsoError::Unavailable(String::new()),
        SsoError::NoFlow(""),
        SsoError::StateMismatch,
        SsoError::Replayed,
        SsoError::Denied {
            error: "x".into(),
            description: String::new(),
        },
        SsoError::WrongIssuer(String::new()),
        SsoError::WrongAudience(String::new()),
        SsoError::BadSignature(String::new()),
        SsoError::Expired(String::new()),
        SsoError::NonceMismatch(String::new()),
        SsoError::Exchange(String::new()),
        SsoError::InvalidToken(String::new()),
        SsoError::MissingClaim(String::new()),
        SsoError::ClaimMismatch(String::new()),
        SsoError::InvalidAccount {
            claim: String::new(),
            value: String::new(),
        },
        SsoError::UnknownAccount(String::new()),
        SsoError::SubjectChanged {
            account: String::new(),
            stored: String::new(),
            now: String::new(),
        },
        SsoError::NativeDisabled,
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for e in &all {
        assert!(e.user_message().ends_with('。'), "{}", e.kind());
        assert!(kinds.insert(e.kind()));
    }
}

#[test]
fn required_claims_match_strings_lists_and_scalars() {
    use serde_json::json;
    assert!(claim_has(&json!("prosecutor"), "prosecutor"));
    assert!(claim_has(&json!(["clerk", "prosecutor"]), "prosecutor"));
    assert!(claim_has(&json!(true), "true"));
    assert!(claim_has(&json!(3), "3"));
    assert!(!claim_has(&json!("Prosecutor"), "prosecutor"));
    assert!(!claim_has(&json!([["prosecutor"]]), "prosecutor"));
    assert!(!claim_has(&json!({"role": "prosecutor"}), "prosecutor"));
}
