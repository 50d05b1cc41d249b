//! The headless Chromium test of the prosecutors' single sign-on: a
//! prosecutor opens the login page, follows "檢察官登入（法務部單一窗口）" to
//! the real test provider (scripts/oidc-provider), signs in on its own login
//! page, comes back signed in, and sees exactly the cases the live snapshot
//! assigns to the account; opens one; signs out here and at the provider.
//! The browser follows every redirect itself, so the provider is told the
//! server's own address as the client's redirect URI once the server
//! listens.

use super::{phone_screenshot, Browser};
use crate::sso::{assigned, provider::Op, provider::PASSWORD as OP_PASSWORD, sso_env};
use crate::util::{free_port, on_free_ports, repo_root, Data, Server};

/// `cpor-server` on a free loopback port (`on_free_ports`), with the
/// settings `env_for` gives for the address it will have.
fn start_server(data: &Data, env_for: impl Fn(&str) -> Vec<(&'static str, String)>) -> Server {
    on_free_ports("cpor-server", || {
        let port = free_port();
        // (a clash with another test's server is an error, not a port
        // shared: `server.reuse_port` is off by default)
        let env = env_for(&format!("http://127.0.0.1:{port}"));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::try_start_on(data, &format!("127.0.0.1:{port}"), &env)
    })
}

#[test]
fn in_chromium_a_prosecutor_signs_in_through_the_provider_and_sees_the_assigned_cases() {
    let _busy = crate::util::busy();
    let shots = repo_root().join("target").join("screenshots");
    let data = Data::sample();
    // The provider first (the server discovers it as it starts), then the
    // server, whose address the provider then takes as the client's only
    // redirect URIs.
    let op = Op::start(&[]);
    let server = start_server(&data, |base| {
        let mut env = sso_env(&op);
        env.retain(|(k, _)| *k != "CPOR_SSO_REDIRECT_URL");
        env.push(("CPOR_MAIL_SITE_URL", base.to_string()));
        env
    });
    let base = &server.base;
    let client = op.admin(
        "client",
        &format!(
            "redirect_uri={}&post_logout_redirect_uri={}",
            crate::util::enc(&format!("{base}/sso/callback")),
            crate::util::enc(&format!("{base}/")),
        ),
    );
    assert_eq!(
        client["redirect_uris"],
        serde_json::json!([format!("{base}/sso/callback")])
    );
    let b = Browser::start(super::PHONE);

    b.go(&format!("{}/login", server.base));
    let entry = b.find("#sso a[href=\"/sso/login\"]");
    assert_eq!(b.text(&entry), "檢察官登入（法務部單一窗口）");
    b.click(&entry);
    // The provider's own login page.
    b.find("form#login");
    assert!(b.path().starts_with("/interaction/"), "{}", b.path());
    b.type_into("#username", "chen.wm");
    b.type_into("#password", OP_PASSWORD);
    b.click(&b.find("#submit"));
    b.wait_path("/cases");
    assert_eq!(b.text(&b.find("header .who")), "chen.wm（檢察官）");

    // Exactly the snapshot's assigned queryable cases, each written out.
    let want = assigned(&data, "chen.wm");
    assert!(!want.is_empty());
    let rows = b.find_all("table.list tbody tr");
    assert_eq!(rows.len(), want.len(), "{}", b.source());
    let shown: std::collections::BTreeSet<String> = b
        .find_all("table.list tbody tr th[data-label=\"案號\"] a")
        .iter()
        .map(|a| {
            let href = b.script(
                "return arguments[0].getAttribute('href')",
                serde_json::json!([{ super::ELEMENT: a.0 }]),
            );
            href.as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(shown, want);
    phone_screenshot(&b, &shots, "prosecutor-cases");
    // The prosecutor's pages pass axe-core (WCAG 2.2 AA and best practices) like everyone's:
    // the list, and the account page with its digest, reminders and
    // calendar feed (issues 11 and 14), a feed made and shown once.
    let mut audit = super::a11y::Audit::new();
    audit.check(&b, "prosecutor-cases");
    b.go(&format!("{}/account", server.base));
    audit.check(&b, "prosecutor-account");
    b.click_button("建立訂閱網址");
    b.wait("the new feed's address", || {
        b.source().contains("/calendar/")
    });
    audit.check(&b, "prosecutor-account-feed");
    b.go(&format!("{}/cases", server.base));

    // One of them: the same case page as anyone's.
    let path = want.iter().next().unwrap().clone();
    b.click(&b.find(&format!("a[href=\"{path}\"]")));
    b.wait_path(&path);
    let h1 = b.text(&b.find("h1"));
    assert!(h1.contains("年度") && h1.ends_with('號'), "{h1}");
    audit.check(&b, "prosecutor-case");
    audit.assert_none();

    // Signing out here ends the session at once: on a shared computer the
    // next person, finding the provider's logout page, presses Back to
    // where the case was, and is asked to sign in; the case is not shown
    // from the browser's caches (signed-in pages are `no-store`: with them
    // cacheable this fails; for the back/forward cache, the applicants'
    // test `in_chromium_the_back_button_after_signing_out_shows_no_case`,
    // whose script the prosecutors' pages carry too).
    b.click_button("登出");
    b.wait("the provider's logout page", || {
        b.path().starts_with("/session/end")
    });
    b.back();
    let asked_to_sign_in = format!("/login?next={}", crate::util::enc(&path));
    b.wait("the case's page, fetched again, to ask to sign in", || {
        b.path() == asked_to_sign_in
    });
    super::assert_signed_out_page(&b, &h1);
    // Then at the provider too, which lands on the login page.
    b.forward();
    b.wait("the provider's logout page again", || {
        b.path().starts_with("/session/end")
    });
    b.click_button("登出");
    b.wait_path("/login");
    b.go(&format!("{}{path}", server.base));
    b.wait_path(&format!("/login?next={}", crate::util::enc(&path)));
}
