//! What the JSON API tells an app, held to what the website tells a
//! browser of the same account: the same changes, the same orders, the
//! same ways to name a case.

use serde_json::{json, Value};

use crate::openapi::spec_json;
use crate::util::{Client, Data, Server, PASSWORD};

const LAWYER: &str = "lawyer.chen@example.com";

/// A signed-in browser and an app's bearer token, for the same account.
fn browser_and_app(server: &Server, data: &Data, email: &str) -> (Client, String) {
    let mut web = Client::new(server);
    assert_eq!(web.activate(data, email, PASSWORD).status, 303);
    assert_eq!(
        web.login(email, PASSWORD).header("location"),
        Some("/cases")
    );
    let token = Client::new(server).api_token(email, PASSWORD);
    (web, token)
}

/// The cases a list page shows, by their paths, in its order.
fn shown(body: &str) -> Vec<String> {
    body.split("data-label=\"案號\"><a href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

/// The cases an API list gives, by their website paths, in its order.
fn listed(list: &Value) -> Vec<String> {
    list["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let url = c["url"].as_str().unwrap();
            url.strip_prefix("/api/v1").unwrap().to_string()
        })
        .collect()
}

/// The API review of the forty-ninth session (its 1): a clerk rewrote an
/// older entry (刑事 115 訴 100's of 115/10/28, a judgment day moved, on
/// night 2), and the website said 「115/10/28（115/11/24 異動）」 and moved
/// the case up its 最近異動 order, while an app was given
/// `latest_entry_date: 115/10/28` and nothing else: a lawyer on the app
/// lost the change. Each entry now says when it was revised after its
/// day, the case when it last changed, and `?sort=` orders the list as
/// the website's does.
#[test]
fn an_app_is_told_of_an_older_entry_rewritten_as_the_website_is() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let (mut web, token) = browser_and_app(&server, &data, LAWYER);
    let mut app = Client::new(&server);
    let path = "/api/v1/cases/TPD/刑事/115/訴/100";

    let list = app.api("GET", "/api/v1/cases", None, Some(&token));
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    let summary = list["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "刑事" && c["word"] == "訴" && c["number"] == 100)
        .unwrap_or_else(|| panic!("刑事 115 訴 100 in {list}"))
        .clone();
    assert_eq!(summary["latest_entry_date"], "115/10/28", "{summary}");
    assert_eq!(summary["latest_change"], "115/11/24", "{summary}");
    assert_eq!(summary["latest_change_iso"], "2026-11-24", "{summary}");

    let case = app.api("GET", path, None, Some(&token));
    assert_eq!(case.status, 200, "{}", case.body);
    let case = case.json();
    assert_eq!(case["latest_change"], "115/11/24", "{case}");
    let entries = case["entries"].as_array().unwrap();
    let moved = entries
        .iter()
        .find(|e| e["posted"] == "115/10/28")
        .unwrap_or_else(|| panic!("the entry of 115/10/28 in {case}"));
    assert!(
        moved["text"].as_str().unwrap().contains("115/12/15"),
        "{moved}"
    );
    assert_eq!(moved["revised"], "115/11/24", "{moved}");
    assert_eq!(moved["revised_iso"], "2026-11-24", "{moved}");
    // An entry never rewritten after its day says so: null, not absent.
    for e in entries {
        assert!(e.get("revised").is_some() && e.get("revised_iso").is_some());
        if let Some(r) = e["revised_iso"].as_str() {
            assert!(r > e["posted_iso"].as_str().unwrap(), "{e}");
        }
    }
    // The orders are the website's own, and the key order stays the
    // default.
    for (query, page) in [
        ("", "/cases"),
        ("?sort=recent", "/cases?sort=recent"),
        ("?sort=ending", "/cases?sort=ending"),
        ("?sort=nonsense", "/cases"),
    ] {
        let r = app.api("GET", &format!("/api/v1/cases{query}"), None, Some(&token));
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        let expected = shown(&web.get(page).body);
        assert!(!expected.is_empty());
        assert_eq!(listed(&r.json()), expected, "{query}");
    }
    let by_key = listed(&list);
    let recent = listed(
        &app.api("GET", "/api/v1/cases?sort=recent", None, Some(&token))
            .json(),
    );
    assert_ne!(recent, by_key, "the sample tells them apart");

    // And openapi.yaml says all of it.
    let spec = spec_json(&app.get("/api/v1/openapi.yaml").body);
    let schemas = &spec["components"]["schemas"];
    for field in ["latest_change", "latest_change_iso"] {
        assert!(
            schemas["CaseSummary"]["properties"][field].is_object(),
            "CaseSummary.{field}"
        );
    }
    let entry = &schemas["Case"]["allOf"][1]["properties"]["entries"]["items"];
    for field in ["revised", "revised_iso"] {
        assert!(entry["properties"][field].is_object(), "Entry.{field}");
    }
    let sort = spec["paths"]["/cases"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "sort"))
        .unwrap_or_else(|| panic!("no sort parameter on /cases"));
    assert_eq!(sort["in"], "query");
    assert_eq!(
        sort["schema"]["enum"],
        json!(["case", "recent", "ending"]),
        "{sort}"
    );
}

/// The API review of the forty-ninth session (its 4): the list's `gone`
/// named a case by 「114年度訴字第523號」 alone, where the spec says that
/// asked for by its path such a case is 410: an app had to parse the
/// Chinese number to build the path. A gone case has its key and its
/// `url`, and the url answers the 410.
#[test]
fn a_gone_case_names_the_path_that_answers_410() {
    let wu = "wu.jh@example.com";
    let data = Data::sample_activated(&[wu]);
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    let token = c.api_token(wu, PASSWORD);
    let list = c.api("GET", "/api/v1/cases", None, Some(&token));
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    let gone = list["gone"].as_array().unwrap();
    let left = gone
        .iter()
        .find(|g| g["number_text"] == "114年度訴字第523號")
        .unwrap_or_else(|| panic!("114 訴 523 in {list}"));
    assert_eq!(left["year"], 114, "{left}");
    assert_eq!(left["word"], "訴", "{left}");
    assert_eq!(left["number"], 523, "{left}");
    let url = left["url"].as_str().unwrap_or_else(|| panic!("{left}"));
    assert_eq!(
        url,
        "/api/v1/cases/TPD/%E6%B0%91%E4%BA%8B/114/%E8%A8%B4/523"
    );
    let r = c.api("GET", url, None, Some(&token));
    assert_eq!(r.status, 410, "{}", r.body);
    assert_eq!(r.json()["case"], *left, "the 410 names the same case");
}

/// A body as sent: gunzipped if its Content-Encoding says gzip.
pub(crate) fn decoded(r: &crate::util::Resp) -> Vec<u8> {
    match r.header("content-encoding") {
        Some("gzip") => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.bytes[..]), &mut out)
                .expect("a gzip body");
            out
        }
        None => r.bytes.clone(),
        Some(other) => panic!("Content-Encoding: {other}"),
    }
}

/// The many-cases review of the fifty-third session (its 4): for a lawyer
/// of 1,908 cases the list was 873 KB and the hearings 800 KB, sent
/// uncompressed and `no-store`, so an app fetched both whole at every
/// refresh, where gzip would send a few tens of KB and an unchanged list
/// nothing. Here a generated night's busiest lawyer: the lists come
/// compressed to an app that asks (`Accept-Encoding: gzip`), the same JSON,
/// with an ETag that a fetch naming it (`If-None-Match`) is answered 304
/// for, without a body; `Cache-Control: private, no-cache` (the app's own
/// cache may keep them, asking each time). A case has its ETag too, and
/// goes as it is, small (under 8 KiB, the first round trip's); pages
/// (their anti-forgery tokens beside what a request put in them) are never
/// compressed, and never kept.
#[test]
fn the_apis_lists_come_compressed_to_an_app_that_asks_and_unchanged_are_answered_304() {
    let (data, lawyer) = Data::generated(4000);
    // The morning after the night: the lawyer's hearings are to come.
    let server = Server::start_at(&data, crate::util::SAMPLE_MORNING, &[]);
    let (mut web, token) = browser_and_app(&server, &data, &lawyer);
    let bearer = format!("Bearer {token}");
    let fetch = |path: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend_from_slice(extra);
        crate::util::request_from(&server, "127.0.0.1", "GET", path, &headers, b"").unwrap()
    };
    let case = first_case_url(&fetch("/api/v1/cases", &[]));
    let mut lawyers = String::new();
    for (path, big) in [
        ("/api/v1/cases", true),
        ("/api/v1/hearings", true),
        (case.as_str(), false),
    ] {
        let plain = fetch(path, &[]);
        assert_eq!(plain.status, 200, "{path}: {}", plain.body);
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert_eq!(
            plain.bytes.len() > 8 * 1024,
            big,
            "{path}: {} bytes",
            plain.bytes.len()
        );
        let etag = plain
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag: {:?}", plain.headers))
            .to_string();
        assert_eq!(
            plain.header("cache-control"),
            Some("private, no-cache"),
            "{path}"
        );
        assert!(
            plain
                .header("vary")
                .is_some_and(|v| v.eq_ignore_ascii_case("accept-encoding")),
            "{path}: {:?}",
            plain.headers
        );
        let packed = fetch(path, &[("accept-encoding", "gzip, deflate, br")]);
        assert_eq!(packed.status, 200, "{path}");
        assert_eq!(decoded(&packed), plain.bytes, "{path}: the same JSON");
        assert_eq!(packed.header("etag"), Some(etag.as_str()), "{path}");
        if big {
            assert_eq!(packed.header("content-encoding"), Some("gzip"), "{path}");
            assert!(
                packed.bytes.len() * 4 < plain.bytes.len(),
                "{path}: {} bytes compressed of {}",
                packed.bytes.len(),
                plain.bytes.len()
            );
            // Not taken: `gzip;q=0`.
            let refused = fetch(path, &[("accept-encoding", "gzip;q=0, identity")]);
            assert_eq!(refused.header("content-encoding"), None, "{path}");
        } else {
            assert_eq!(packed.header("content-encoding"), None, "{path}: small");
        }
        // Unchanged: 304, no body, the same validators.
        for named in [etag.clone(), format!("\"x\", {etag}"), "*".to_string()] {
            let again = fetch(
                path,
                &[("if-none-match", &named), ("accept-encoding", "gzip")],
            );
            assert_eq!(again.status, 304, "{path}: If-None-Match: {named}");
            assert!(again.bytes.is_empty(), "{path}");
            assert_eq!(again.header("etag"), Some(etag.as_str()), "{path}");
            assert_eq!(
                again.header("cache-control"),
                Some("private, no-cache"),
                "{path}"
            );
        }
        let stale = fetch(path, &[("if-none-match", "W/\"0123\"")]);
        assert_eq!(stale.status, 200, "{path}");
        assert_eq!(stale.bytes, plain.bytes, "{path}");
        if path == "/api/v1/cases" {
            lawyers = etag;
        }
    }
    // Another reader's list, asked with the lawyer's ETag, is theirs; and
    // a session that ended is 401, whatever ETag it names.
    let other = first_other_address(&data, &lawyer);
    let mut them = Client::new(&server);
    assert_eq!(them.activate(&data, &other, PASSWORD).status, 303);
    let theirs = format!("Bearer {}", them.api_token(&other, PASSWORD));
    let ask = |bearer: &str| {
        crate::util::request_from(
            &server,
            "127.0.0.1",
            "GET",
            "/api/v1/cases",
            &[("authorization", bearer), ("if-none-match", &lawyers)],
            b"",
        )
        .unwrap()
    };
    let answer = ask(&theirs);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_ne!(answer.header("etag"), Some(lawyers.as_str()));
    assert_eq!(
        Client::new(&server)
            .api("DELETE", "/api/v1/session", None, Some(&token))
            .status,
        204
    );
    assert_eq!(ask(&bearer).status, 401);
    // A page is never compressed, and never kept.
    let cookie: Vec<String> = web
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let page = crate::util::request_from(
        &server,
        "127.0.0.1",
        "GET",
        "/cases",
        &[("cookie", &cookie.join("; ")), ("accept-encoding", "gzip")],
        b"",
    )
    .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.bytes.len() > 8 * 1024, "{} bytes", page.bytes.len());
    assert_eq!(page.header("content-encoding"), None);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(web.get("/cases").status, 200);
}

/// An address of the generated night, other than `not`, with a case.
fn first_other_address(data: &Data, not: &str) -> String {
    let name = std::fs::read_to_string(data.path().join("CURRENT")).unwrap();
    rusqlite::Connection::open(data.path().join("snapshots").join(name.trim()))
        .unwrap()
        .query_row(
            "SELECT g.email FROM grants g JOIN cases c ON c.id = g.case_id
             WHERE c.queryable = 1 AND g.email <> ?1 ORDER BY g.email LIMIT 1",
            [not],
            |r| r.get(0),
        )
        .unwrap()
}

/// The API path of the first case an API list names.
fn first_case_url(list: &crate::util::Resp) -> String {
    let list: Value = serde_json::from_str(&list.body).unwrap();
    list["cases"][0]["url"].as_str().unwrap().to_string()
}
