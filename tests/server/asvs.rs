//! The OWASP ASVS 4.0.3 level 2 items issue 12's review found failing
//! (docs/SECURITY.md): 2.1.8 a password strength meter, 2.1.12 showing
//! the password being typed, 2.4.5 a pepper, 3.3.4 the list of one's
//! sessions with "log out everywhere". (2.1.8 and 2.1.12 in a browser:
//! tests/server/browser.rs.)

use rusqlite::Connection;

use crate::util::{signs_in, Client, Data, Server, PASSWORD};

const WANG: &str = "wang.ming@example.com";

fn stored_hash(data: &Data, email: &str) -> String {
    Connection::open(data.path().join("accounts.sqlite"))
        .unwrap()
        .query_row(
            "SELECT password_hash FROM accounts WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
}

/// 2.4.5: a copy of accounts.sqlite alone must not be enough to guess
/// passwords offline. What argon2 hashes is keyed with a pepper kept in
/// its own file (`server.pepper_file`, by default `<data>/pepper.key`);
/// the hash names the pepper. A hash from before the pepper still works
/// and is replaced at the next login; under another pepper nothing
/// verifies.
#[test]
fn passwords_are_peppered_with_a_key_outside_the_database_and_old_hashes_move_over() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    assert_eq!(c.activate(&data, WANG, PASSWORD).status, 303);
    let peppered = stored_hash(&data, WANG);
    assert!(
        peppered.starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid="),
        "{peppered}"
    );
    assert!(data.path().join("pepper.key").exists());
    drop(server);

    // A hash from before the pepper: argon2id of the password itself.
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let old = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19 * 1024, 2, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &salt)
    .unwrap()
    .to_string();
    Connection::open(data.path().join("accounts.sqlite"))
        .unwrap()
        .execute(
            "UPDATE accounts SET password_hash = ?1 WHERE email = ?2",
            [&old, WANG],
        )
        .unwrap();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    assert_eq!(c.login(WANG, PASSWORD).header("location"), Some("/cases"));
    let moved = stored_hash(&data, WANG);
    assert!(moved.contains(",keyid="), "replaced at login: {moved}");
    signs_in(&server, WANG, PASSWORD);
    drop(server);

    // The same database under another pepper verifies nothing.
    let other = data.dir.path().join("other-pepper.key");
    std::fs::write(&other, format!("{}\n", "ab".repeat(32))).unwrap();
    let server = Server::start(
        &data,
        &[("CPOR_SERVER_PEPPER_FILE", other.to_str().unwrap())],
    );
    let r = Client::new(&server).login(WANG, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("帳號或密碼不正確"));
}

/// 3.3.4: the account page lists the account's sessions (browser or app,
/// since when, last active) and ends every other one at a click.
#[test]
fn the_account_page_lists_every_session_and_ends_the_others() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    assert_eq!(c.activate(&data, WANG, PASSWORD).status, 303);
    assert_eq!(c.login(WANG, PASSWORD).header("location"), Some("/cases"));
    let mut phone = Client::new(&server);
    assert_eq!(
        phone.login(WANG, PASSWORD).header("location"),
        Some("/cases")
    );
    let app = c.api_login(WANG, PASSWORD);
    assert_eq!(app.status, 201, "{}", app.body);
    let token = app.json()["token"].as_str().unwrap().to_string();

    let page = c.get("/account");
    let rows = page.body.matches("<tr class=\"session").count();
    assert_eq!(rows, 3, "{}", page.body);
    let table = page
        .body
        .split("<table class=\"sessions\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("{}", page.body));
    assert_eq!(table.matches("瀏覽器").count(), 2, "{table}");
    assert!(page.body.contains("App"), "{}", page.body);
    assert!(page.body.contains("目前這個"), "{}", page.body);

    let csrf = page.field("csrf");
    let r = c.post("/account/sessions", &[("csrf", &csrf)]);
    assert_eq!(r.header("location"), Some("/account?m=sessions-ended"));
    let page = c.get("/account?m=sessions-ended");
    assert!(
        page.body.contains("其他裝置上的登入都已登出"),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<tr class=\"session").count(), 1);
    assert_eq!(c.get("/cases").status, 200, "this one stays");
    assert_eq!(phone.get("/cases").status, 303, "the phone is signed out");
    let r = c.api("GET", "/api/v1/cases", None, Some(&token));
    assert_eq!(r.status, 401, "the app is signed out");
    // Forged: refused.
    let mut other = Client::new(&server);
    assert_eq!(
        other.login(WANG, PASSWORD).header("location"),
        Some("/cases")
    );
    assert_eq!(c.post("/account/sessions", &[("csrf", "f00")]).status, 403);
    assert_eq!(other.get("/cases").status, 200);
}

/// 2.1.8 and 2.1.12 without a browser: the password forms load the site's
/// own script (the only one; CSP allows no other and no inline script),
/// mark the new-password field for it, and work without it; a refused
/// password's answer says how strong it looked, on the server's word.
#[test]
fn password_forms_have_a_strength_meter_and_a_show_password_switch_of_the_sites_own() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    let link = data.link("activation", WANG);
    let form = c.get(&link);
    assert!(
        form.body
            .contains("<script src=\"/static/password.js\" defer></script>"),
        "{}",
        form.body
    );
    assert_eq!(form.body.matches("<script").count(), 1, "no inline script");
    assert!(form.body.contains("data-strength"), "{}", form.body);
    let csp = form.header("content-security-policy").unwrap().to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let js = c.get("/static/password.js");
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.body.contains("密碼強度"), "the meter's words");
    // Without the script the form still works; refused, the server says
    // how strong the password looked.
    let (csrf, token) = (form.field("csrf"), form.field("token"));
    let r = c.post(
        "/activate",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", "password1234"),
            ("confirm", "password1234"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("密碼強度：太常見"), "{}", r.body);
    let r = c.post(
        "/activate",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", "a long enough passphrase"),
            ("confirm", "not the same one at all"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("密碼強度："), "{}", r.body);
    // The account page's change form is marked too.
    assert_eq!(c.activate(&data, WANG, PASSWORD).status, 303);
    c.login(WANG, PASSWORD);
    let page = c.get("/account");
    assert!(page.body.contains("/static/password.js"), "{}", page.body);
    assert!(page.body.contains("data-strength"), "{}", page.body);
}
