//! openapi.yaml is the API's contract with apps: a client is generated
//! from it, and an app decodes every answer by it. So the spec the server
//! serves must be valid OpenAPI (a generator validates it first), and every
//! answer an app can get, errors of the HTTP layer included, must be one
//! it lists: its status, its media type, a body its schema accepts (an
//! `Error` for every error) and the headers it declares. Checked by
//! tests/support/check_openapi.py (openapi-spec-validator and the OpenAPI
//! 3.0 schema validator, installed by scripts/setup-test-deps). Found by
//! a walk of the API as an app's developer (2026-12-04): the served spec
//! did not validate, and 429, 413, 408 and 400 came as plain text.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::python::python;
use crate::util::{
    connect_from, read_response, repo_root, request_from, Client, Data, Resp, Server, CAPTCHA,
    PASSWORD,
};

const LAWYER: &str = "lawyer.chen@example.com";

/// Answers and the spec's route each was for.
#[derive(Default)]
struct Answers(Vec<Value>);

impl Answers {
    fn add<'r>(&mut self, method: &str, route: &str, r: &'r Resp) -> &'r Resp {
        self.0.push(json!({
            "method": method,
            "route": route,
            "status": r.status,
            "headers": r.headers,
            "body": r.body,
        }));
        r
    }

    /// check_openapi.py's word on `spec` and these answers: the problems,
    /// one a line (empty when there are none).
    fn problems(&self, spec: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openapi.yaml");
        std::fs::write(&path, spec).unwrap();
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/support/check_openapi.py"))
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // (a spec that is not valid OpenAPI is said before the answers are
        // read: the checker may exit with them still unread, a pipe broken)
        let written = child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&self.0).unwrap());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            out.status.success(),
            said.is_empty(),
            "check_openapi.py: {said}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        said
    }
}

#[test]
fn every_answer_an_app_can_get_is_one_openapi_yaml_lists_and_the_spec_is_valid() {
    // (wu.jh's account made while its case was open, which has left)
    let data = Data::sample_activated(&["wu.jh@example.com"]);
    let server = Server::start(&data, &[("CPOR_SERVER_BODY_TIMEOUT_SECONDS", "1")]);
    let mut c = Client::new(&server);
    let mut a = Answers::default();
    let spec = c.get("/api/v1/openapi.yaml");
    assert_eq!(spec.status, 200);

    // Logging in.
    a.add(
        "POST",
        "/captcha",
        &c.api("POST", "/api/v1/captcha", None, None),
    );
    let bad = c.api("POST", "/api/v1/session", Some(json!({"email": 1})), None);
    assert_eq!(a.add("POST", "/session", &bad).status, 400);
    assert_eq!(c.activate(&data, LAWYER, PASSWORD).status, 303);
    let wrong = c.api_login(LAWYER, "not the password at all");
    assert_eq!(a.add("POST", "/session", &wrong).status, 401);
    let session = c.api_login(LAWYER, PASSWORD);
    assert_eq!(a.add("POST", "/session", &session).status, 201);
    let token = session.json()["token"].as_str().unwrap().to_string();

    // What a signed-in app reads.
    let list = c.api("GET", "/api/v1/cases", None, Some(&token));
    assert_eq!(a.add("GET", "/cases", &list).status, 200);
    // The API review of the forty-fourth session (its 11 and 12): the
    // list says which cases are yesterday's (a court carried over) as the
    // website's does, and a last day an app can compare with today.
    let listed = list.json()["cases"].as_array().unwrap().clone();
    assert!(
        listed.iter().all(|c| c["carried_over"].is_boolean()),
        "{listed:?}"
    );
    let ending = listed
        .iter()
        .find(|c| !c["last_queryable_date"].is_null())
        .unwrap_or_else(|| panic!("a case with a last day: {listed:?}"));
    let roc = ending["last_queryable_date"].as_str().unwrap();
    let iso = ending["last_queryable_date_iso"].as_str().unwrap();
    let (y, rest) = roc.split_once('/').unwrap();
    assert_eq!(
        iso,
        format!(
            "{}-{}",
            y.parse::<i32>().unwrap() + 1911,
            rest.replace('/', "-")
        )
    );
    let case = "/cases/{court}/{category}/{year}/{word}/{number}";
    for summary in list.json()["cases"].as_array().unwrap() {
        let path = summary["url"].as_str().unwrap();
        let one = c.api("GET", path, None, Some(&token));
        assert_eq!(a.add("GET", case, &one).status, 200);
        for h in one.json()["hearings"].as_array().unwrap() {
            let file = c.api(
                "GET",
                h["calendar_url"].as_str().unwrap(),
                None,
                Some(&token),
            );
            let route = "/cases/{court}/{category}/{year}/{word}/{number}/hearings/{uid}.ics";
            assert_eq!(a.add("GET", route, &file).status, 200);
        }
    }
    let unknown = c.api(
        "GET",
        "/api/v1/cases/TPD/民事/115/訴/99999",
        None,
        Some(&token),
    );
    assert_eq!(a.add("GET", case, &unknown).status, 404);
    // A case of the user's that left the queryable range.
    let mut wu = Client::new(&server);
    let wu_token = wu.api_token("wu.jh@example.com", PASSWORD);
    let left = wu.api(
        "GET",
        "/api/v1/cases/TPD/民事/114/訴/523",
        None,
        Some(&wu_token),
    );
    assert_eq!(a.add("GET", case, &left).status, 410);
    // The list that names it among `gone`.
    let none = wu.api("GET", "/api/v1/cases", None, Some(&wu_token));
    assert_eq!(a.add("GET", "/cases", &none).status, 200);
    assert!(!none.json()["gone"].as_array().unwrap().is_empty());
    // The list in each order it takes.
    for sort in ["case", "recent", "ending"] {
        let path = format!("/api/v1/cases?sort={sort}");
        let r = c.api("GET", &path, None, Some(&token));
        assert_eq!(a.add("GET", "/cases", &r).status, 200);
    }
    let hearings = c.api("GET", "/api/v1/hearings", None, Some(&token));
    assert_eq!(a.add("GET", "/hearings", &hearings).status, 200);
    // The many-cases review of the fifty-third session (its 4): an app
    // that has the lists or a case is told they are unchanged (304, no
    // body); what is large comes compressed to an app that asks (the
    // spec, here; the lists of a lawyer of many cases,
    // `api::the_apis_lists_come_compressed_…`).
    let first = list.json()["cases"][0]["url"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    for (path, route) in [
        ("/api/v1/cases", "/cases"),
        ("/api/v1/hearings", "/hearings"),
        (first.as_str(), case),
    ] {
        let plain = c.api("GET", path, None, Some(&token));
        let etag = plain
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag: {:?}", plain.headers));
        let auth = ("authorization", bearer.as_str());
        let same = [auth, ("if-none-match", etag)];
        let r = request_from(&server, "127.0.0.1", "GET", path, &same, b"").unwrap();
        assert_eq!(a.add("GET", route, &r).status, 304, "{path}");
    }
    let gzip = [("accept-encoding", "gzip")];
    let packed = request_from(
        &server,
        "127.0.0.1",
        "GET",
        "/api/v1/openapi.yaml",
        &gzip,
        b"",
    )
    .unwrap();
    assert_eq!(packed.header("content-encoding"), Some("gzip"));
    // (the checker reads what the app decodes)
    let bytes = crate::api::decoded(&packed);
    assert_eq!(bytes, spec.bytes);
    let read = Resp {
        status: packed.status,
        headers: packed.headers.clone(),
        body: String::from_utf8(bytes.clone()).unwrap(),
        bytes,
    };
    assert_eq!(a.add("GET", "/openapi.yaml", &read).status, 200);
    // No token, and a token that names no session.
    a.add("GET", "/cases", &c.api("GET", "/api/v1/cases", None, None));
    let ended = c.api("GET", "/api/v1/hearings", None, Some("no-such-session"));
    assert_eq!(a.add("GET", "/hearings", &ended).status, 401);

    // The HTTP layer's refusals: a body over 16 KiB, one that does not
    // arrive in time, one that cannot be read.
    let big = vec![b'x'; 17 * 1024];
    let r = request_from(&server, "127.0.0.8", "POST", "/api/v1/session", &[], &big).unwrap();
    assert_eq!(a.add("POST", "/session", &r).status, 413);
    let mut slow = connect_from(&server, "127.0.0.8").unwrap();
    write!(
        slow,
        "POST /api/v1/session HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"em"
    )
    .unwrap();
    let r = read_response(&mut slow).unwrap();
    assert_eq!(a.add("POST", "/session", &r).status, 408);
    let chunked = [("transfer-encoding", "chunked")];
    let r = request_from(
        &server,
        "127.0.0.8",
        "POST",
        "/api/v1/session",
        &chunked,
        b"zz\r\n",
    )
    .unwrap();
    assert_eq!(a.add("POST", "/session", &r).status, 400);

    // The API review of the forty-fourth session (its 4 and 7): a body
    // over 16 KiB on a GET is refused 413 as on a POST, which no GET
    // operation listed; and the spec itself, served, was no path of it.
    let r = request_from(
        &server,
        "127.0.0.8",
        "GET",
        "/api/v1/cases",
        &[("authorization", &format!("Bearer {token}"))],
        &big,
    )
    .unwrap();
    assert_eq!(a.add("GET", "/cases", &r).status, 413);
    a.add("GET", "/openapi.yaml", &spec);

    let out = c.api("DELETE", "/api/v1/session", None, Some(&token));
    assert_eq!(a.add("DELETE", "/session", &out).status, 204);
    // No content, so no content type either.
    assert_eq!(out.header("content-type"), None);

    // Requests past their address's rate.
    let limited = Server::start(
        &data,
        &[
            ("CPOR_SERVER_REQUESTS_BURST_PER_IP", "2"),
            ("CPOR_SERVER_REQUESTS_PER_SECOND_PER_IP", "1"),
        ],
    );
    let answers: Vec<Resp> = (0..4)
        .map(|_| request_from(&limited, "127.0.0.9", "GET", "/api/v1/cases", &[], b"").unwrap())
        .collect();
    let over = answers.iter().find(|r| r.status == 429).expect("a 429");
    a.add("GET", "/cases", over);
    // No snapshot (yet, or any more): the same accounts, and no CURRENT.
    let token = c.api_token(LAWYER, PASSWORD);
    let bare = Data::empty();
    std::fs::create_dir_all(bare.path()).unwrap();
    let copy = bare.path().join("accounts.sqlite");
    rusqlite::Connection::open(data.path().join("accounts.sqlite"))
        .unwrap()
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    let unready = Server::start(&bare, &[]);
    let r = Client::new(&unready).api("GET", "/api/v1/cases", None, Some(&token));
    assert_eq!(a.add("GET", "/cases", &r).status, 503, "{}", r.body);

    assert_eq!(a.problems(&spec.body), "");
    // The checker finds what it is there for.
    // (The spec as it was: unquoted in a flow mapping, the comma ended the
    // description and made "in Traditional Chinese." a key of its own.)
    let quoted = "description: \"For people, in Traditional Chinese.\"";
    assert!(spec.body.contains(quoted));
    let broken = spec
        .body
        .replace(quoted, "description: For people, in Traditional Chinese.");
    assert!(a.problems(&broken).contains("not valid OpenAPI"));
    let mut text = Answers::default();
    let plain = Resp {
        status: 429,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: "請求過於頻繁".into(),
        bytes: Vec::new(),
    };
    text.add("GET", "/cases", &plain);
    assert!(!text.problems(&spec.body).is_empty());
}

/// An app's HTTP library may write the scheme as it likes: RFC 9110
/// (11.1) makes it case-insensitive. And a token that no longer names a
/// session says so (RFC 6750's `invalid_token`), so that the app can tell
/// its user the session ended instead of "log in first".
#[test]
fn the_bearer_scheme_is_case_insensitive_and_an_ended_token_is_told_from_none() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    assert_eq!(c.activate(&data, LAWYER, PASSWORD).status, 303);
    let token = c.api_token(LAWYER, PASSWORD);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} {token}");
        let r = request_from(
            &server,
            "127.0.0.1",
            "GET",
            "/api/v1/cases",
            &[("authorization", &auth)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
    }
    let none = c.api("GET", "/api/v1/cases", None, None);
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"], "unauthorised");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        c.api("DELETE", "/api/v1/session", None, Some(&token))
            .status,
        204
    );
    let ended = c.api("GET", "/api/v1/cases", None, Some(&token));
    assert_eq!(ended.status, 401);
    assert_eq!(ended.json()["error"], "invalid_token", "{}", ended.body);
    assert_eq!(
        ended.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert!(
        !ended.json()["message"].as_str().unwrap().contains("Bearer"),
        "people read the message: {}",
        ended.body
    );
}

/// A method a route does not take is 405 with the methods it does take
/// (RFC 9110 15.5.6), for every path of openapi.yaml: an app's developer
/// who sends GET to /session learns what to send, where the API said 404
/// "no such case or resource" (found by the walk of the API). The
/// methods come from the spec itself, so the router and the spec are held
/// to each other.
/// The API review of the forty-ninth session: an account's settings stay
/// the website's, and an app could link only to `/account` as a whole (a
/// long page on a phone). Each section the spec names (`/account#feed`)
/// is now an anchor on the page, which a browser scrolls to.
#[test]
fn each_account_section_the_spec_names_is_an_anchor_on_the_page() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    let spec = c.get("/api/v1/openapi.yaml").body;
    let anchors: Vec<&str> = spec
        .split("`/account#")
        .skip(1)
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(anchors.len() >= 5, "{anchors:?}");
    let r = c.activate(&data, LAWYER, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(c.login(LAWYER, PASSWORD).status, 303);
    let page = c.get("/account");
    assert_eq!(page.status, 200, "{}", page.body);
    for anchor in anchors {
        assert_eq!(
            page.body.matches(&format!("id=\"{anchor}\"")).count(),
            1,
            "#{anchor}: {}",
            page.body
        );
    }
}

#[test]
fn a_method_a_route_does_not_take_is_405_with_the_methods_it_takes() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    let spec = c.get("/api/v1/openapi.yaml").body;
    // The paths, and the methods under each, by the spec's indentation.
    let mut paths: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_paths = false;
    for line in spec.lines() {
        if line == "paths:" {
            in_paths = true;
        } else if in_paths && !line.starts_with(' ') {
            break;
        } else if in_paths && line.starts_with("  /") {
            paths.push((line.trim().trim_end_matches(':').to_string(), Vec::new()));
        } else if let Some(m) = line
            .strip_prefix("    ")
            .and_then(|l| l.strip_suffix(':'))
            .filter(|_| in_paths)
        {
            if !m.starts_with(' ') {
                paths.last_mut().unwrap().1.push(m.to_uppercase());
            }
        }
    }
    assert!(paths.len() >= 8, "{paths:?}");
    for (path, methods) in &paths {
        let concrete = path
            .replace("{court}", "TPD")
            .replace("{category}", "%E6%B0%91%E4%BA%8B")
            .replace("{year}", "115")
            .replace("{word}", "%E8%A8%B4")
            .replace("{number}", "100")
            .replace("{uid}", "0123456789abcdef@cpor");
        let mut want: Vec<&str> = methods.iter().map(String::as_str).collect();
        if want.contains(&"GET") {
            want.push("HEAD");
        }
        want.sort();
        for wrong in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if want.contains(&wrong) {
                continue;
            }
            let r = c.api(wrong, &format!("/api/v1{concrete}"), None, None);
            assert_eq!(r.status, 405, "{wrong} {path}: {}", r.body);
            assert_eq!(r.json()["error"], "method_not_allowed", "{wrong} {path}");
            let mut allow: Vec<&str> = r.header("allow").unwrap_or_default().split(", ").collect();
            allow.sort();
            assert_eq!(allow, want, "{wrong} {path}");
        }
    }
    // A path no route has is still 404.
    assert_eq!(c.api("PUT", "/api/v1/nothing", None, None).status, 404);
}

/// openapi.yaml as JSON (read by the tests' Python's YAML library), to
/// look into its schemas.
pub fn spec_json(spec: &str) -> Value {
    let out = python_with(
        "import json, sys, yaml\n\
         json.dump(yaml.safe_load(sys.stdin.read()), sys.stdout, default=str)\n",
        &[],
        spec.as_bytes(),
    );
    serde_json::from_slice(&out).unwrap()
}

/// Runs `script` with the tests' Python, `input` on its stdin: what it
/// printed (it must succeed).
fn python_with(script: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What the spec's schema of `method path`'s JSON request body says is
/// wrong with each of `bodies` (as the OpenAPI 3.0 schema validator that
/// checks the answers says it), one line each; empty when it takes them all.
fn request_problems(spec: &str, path: &str, method: &str, bodies: &[Value]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.yaml");
    std::fs::write(&file, spec).unwrap();
    let script = "import json, sys, yaml\n\
        from openapi_schema_validator import OAS30Validator\n\
        spec = yaml.safe_load(open(sys.argv[1], encoding='utf-8'))\n\
        body = spec['paths'][sys.argv[2]][sys.argv[3]]['requestBody']\n\
        schema = body['content']['application/json']['schema']\n\
        v = OAS30Validator({**schema, 'components': spec['components']})\n\
        for i, b in enumerate(json.load(sys.stdin)):\n\
        \x20   for e in v.iter_errors(b):\n\
        \x20       print(f\"{i}: {'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}\")\n";
    let out = python_with(
        script,
        &[file.to_str().unwrap(), path, method],
        &serde_json::to_vec(bodies).unwrap(),
    );
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The API review of the forty-ninth session (its 3): `Login.captcha`
/// had the pattern `^[0-9]{6}$`, where its own description (and the
/// server) take full-width digits and spaces: a client generated from
/// the spec with request validation refused, before sending it, the
/// `１２３４５６` a Chinese input method types, and its user saw an error
/// with no reason. Every captcha the server takes, the spec takes.
#[test]
fn a_captcha_the_server_takes_in_full_width_digits_or_with_spaces_is_one_the_spec_takes() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    assert_eq!(c.activate(&data, LAWYER, PASSWORD).status, 303);
    let spec = c.get("/api/v1/openapi.yaml").body;
    let full_width: String = CAPTCHA
        .chars()
        .map(|d| char::from_u32(d as u32 - '0' as u32 + '０' as u32).unwrap())
        .collect();
    let (a, b) = CAPTCHA.split_at(3);
    let typed = [
        CAPTCHA.to_string(),
        full_width.clone(),
        format!("{a} {b}"),
        format!(" {CAPTCHA} "),
        format!("{}\u{3000}{}", &full_width[..9], &full_width[9..]),
    ];
    let mut bodies = Vec::new();
    for t in &typed {
        let captcha = c.api("POST", "/api/v1/captcha", None, None).json();
        let body = json!({"email": LAWYER, "password": PASSWORD,
            "captcha_id": captcha["id"], "captcha": t});
        let r = c.api("POST", "/api/v1/session", Some(body.clone()), None);
        assert_eq!(r.status, 201, "{t:?}: {}", r.body);
        bodies.push(body);
    }
    assert_eq!(
        request_problems(&spec, "/session", "post", &bodies),
        Vec::<String>::new()
    );
    // The check finds a body the spec refuses.
    let missing = json!({"email": LAWYER, "password": PASSWORD});
    assert!(!request_problems(&spec, "/session", "post", &[missing]).is_empty());
}

/// The API review of the forty-ninth session (its 4): `Hearing.state` was
/// a bare enum, where the case page says （已改期）, （已取消） or
/// （可能已變更）, and a moved hearing's `starts` is the date it no longer
/// has. The spec says what each state is and what the website shows.
#[test]
fn the_spec_says_what_each_hearing_state_means_as_the_case_page_shows_it() {
    // (the file the server serves, `api::OPENAPI`)
    let file = repo_root().join("query-server/openapi.yaml");
    let spec = spec_json(&std::fs::read_to_string(file).unwrap());
    let state = &spec["components"]["schemas"]["Hearing"]["properties"]["state"];
    assert_eq!(
        state["enum"],
        json!(["scheduled", "moved", "cancelled", "uncertain"])
    );
    let said = state["description"].as_str().unwrap_or_default();
    for (value, page) in [
        ("`scheduled`", ""),
        ("`moved`", "（已改期）"),
        ("`cancelled`", "（已取消）"),
        ("`uncertain`", "（可能已變更）"),
    ] {
        assert!(said.contains(value), "{value} in {said:?}");
        assert!(said.contains(page), "{page} in {said:?}");
    }
    assert!(
        said.contains("`starts`") && said.contains("old date"),
        "{said:?}"
    );
}
