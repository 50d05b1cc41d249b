//! 我的庭期 (`/hearings`): the hearings to come of every case the reader
//! may query, an applicant's grants or a prosecutor's assignments alike,
//! by day and time, selected as the API's `/api/v1/hearings` selects them
//! and only those that take place (a cancelled hearing, or one moved to a
//! day not known yet, is left to its case's page); each with its case's
//! page and its calendar file, two at one time each saying so, paged as
//! the list of cases is, behind the sign-in and the maintenance window as
//! that list is. The sample's hearings (sample-data/README.md, "Hearings")
//! the morning after night 2, 115/11/25 09:00 (`SAMPLE_MORNING`).

use crate::hearings::signed_in;
use crate::sso;
use crate::util::{enc, taipei_clock, Client, Data, Server, CAPTCHA, PASSWORD, SAMPLE_MORNING};

const LAWYER: &str = "lawyer.chen@example.com";
const WANG: &str = "wang.ming@example.com";
const FISHMONGER: &str = "fishmonger@example.net";
/// 刑事 115 交易 45's 告訴人: its hearings (115/06/02, 115/11/10) are past.
const LI: &str = "li.ml@example.net";

/// 民事 115 重訴 77 (lawyer.chen): 勘驗 115/11/25 14:00, and 言詞辯論 moved
/// from 115/12/03 to 115/12/01 10:30.
const CASE77: &str = "/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E9%87%8D%E8%A8%B4/77";
/// 民事 115 訴 100 (lawyer.chen, wang.ming): 言詞辯論 115/12/10 10:00, and a
/// past 準備程序 (115/11/05).
const CIVIL100: &str = "/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E8%A8%B4/100";
/// 刑事 115 訴 100 (lawyer.chen; prosecutor chen.wm): 宣判 moved to
/// 115/12/15 10:00.
const CRIMINAL100: &str = "/cases/TPD/%E5%88%91%E4%BA%8B/115/%E8%A8%B4/100";
/// 民事 115 簡 33 at PCD (fishmonger): 言詞辯論 115/12/01 09:30, and the
/// 調解 of 115/11/27, cancelled.
const CASE33: &str = "/cases/PCD/%E6%B0%91%E4%BA%8B/115/%E7%B0%A1/33";

/// The calendar files the page links, in its order: one a hearing.
fn listed(body: &str) -> Vec<String> {
    body.match_indices("/hearings/")
        .map(|(i, _)| {
            let from = body[..i].rfind('"').unwrap() + 1;
            let to = i + body[i..].find('"').unwrap();
            body[from..to].to_string()
        })
        .collect()
}

/// The case page a calendar file of `listed` is of.
fn case_of(ics: &str) -> &str {
    &ics[..ics.find("/hearings/").unwrap()]
}

/// What the page's headings of days say, tags left out.
fn days(body: &str) -> Vec<String> {
    text_of(body, "<h2 id=\"d-", "</h2>")
}

/// What each hearing's time cell says, tags left out.
fn times(body: &str) -> Vec<String> {
    text_of(body, "data-label=\"時間\"", "</th>")
}

/// What each hearing's kind cell says, tags left out.
fn kinds(body: &str) -> Vec<String> {
    text_of(body, "data-label=\"程序\"", "</td>")
}

/// The text of each element that starts with `open` (up to its `>`) and
/// ends at `close`, its tags left out.
fn text_of(body: &str, open: &str, close: &str) -> Vec<String> {
    body.match_indices(open)
        .map(|(i, _)| {
            let inner = &body[i..];
            let inner = &inner[inner.find('>').unwrap() + 1..inner.find(close).unwrap()];
            let mut text = String::new();
            let mut in_tag = false;
            for ch in inner.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// The calendar files of the API's hearings to come (`ics_url`, the
/// website's address of each), of those in `states`, in its order.
fn api_listed(c: &mut Client, token: &str, states: &[&str]) -> Vec<String> {
    let list = c.api("GET", "/api/v1/hearings", None, Some(token)).json();
    list["hearings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| states.contains(&h["state"].as_str().unwrap()))
        .map(|h| h["ics_url"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_hearings_page_lists_the_readers_hearings_to_come_across_cases_by_day_and_time() {
    let data = Data::sample();
    let server = Server::start_at(&data, SAMPLE_MORNING, &[]);
    let mut c = signed_in(&server, &data, LAWYER);
    // Beside 我的案件 in the header of every signed-in page.
    let cases = c.get("/cases");
    assert!(
        cases
            .body
            .contains("<a href=\"/cases\">我的案件</a>\n<a href=\"/hearings\">我的庭期</a>"),
        "{}",
        cases.body
    );
    let page = c.get("/hearings");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<title>我的庭期｜"), "{}", page.body);
    assert!(page.body.contains("<h1>我的庭期</h1>"), "{}", page.body);
    let rows = listed(&page.body);
    let of: Vec<&str> = rows.iter().map(|l| case_of(l)).collect();
    assert_eq!(of, [CASE77, CASE77, CIVIL100, CRIMINAL100], "{}", page.body);
    assert_eq!(
        days(&page.body),
        [
            "115/11/25（三）今天",
            "115/12/01（二）6 天後",
            "115/12/10（四）15 天後",
            "115/12/15（二）20 天後",
        ],
        "{}",
        page.body
    );
    assert_eq!(times(&page.body), ["14:00", "10:30", "10:00", "10:00"]);
    for said in [
        "第十二法庭",
        "勘驗",
        "言詞辯論",
        "第一法庭",
        "第三法庭",
        "宣判",
    ] {
        assert!(page.body.contains(said), "{said}: {}", page.body);
    }
    // Each case by its title, linked to its page.
    for (path, title) in [
        (CASE77, "臺灣臺北地方法院 民事 115年度重訴字第77號"),
        (CRIMINAL100, "臺灣臺北地方法院 刑事 115年度訴字第100號"),
    ] {
        assert!(
            page.body
                .contains(&format!("<a href=\"{path}\">{title}</a>")),
            "{title}: {}",
            page.body
        );
    }
    // Exactly the API's hearings to come that take place, in its order:
    // not the past ones (準備程序 115/11/05, 115/04/10), nor the date the
    // 言詞辯論 was moved from (115/12/03).
    let token = c.api_token(LAWYER, PASSWORD);
    assert_eq!(
        rows,
        api_listed(&mut c, &token, &["scheduled", "uncertain"])
    );
    for gone in ["115/11/05", "115/04/10", "115/12/03", "準備程序"] {
        assert!(!page.body.contains(gone), "{gone}: {}", page.body);
    }
    // Each calendar file is the one its case page links, and adds the
    // hearing to a calendar.
    let mut files = Vec::new();
    for ics in &rows {
        let case = c.get(case_of(ics));
        assert!(case.body.contains(&format!("href=\"{ics}\"")), "{ics}");
        let file = c.get(ics);
        assert_eq!(file.status, 200, "{ics}");
        assert_eq!(
            file.header("content-type"),
            Some("text/calendar; charset=utf-8")
        );
        assert!(file.body.contains("STATUS:CONFIRMED"), "{}", file.body);
        let path = data.dir.path().join(format!("{}.ics", files.len()));
        std::fs::write(&path, &file.bytes).unwrap();
        files.push(path);
    }
    crate::python::check_ics(&files);
    // What governs, and the calendar feed; no two at one time here.
    assert!(page.body.contains("庭期以法院傳票或通知書為準"));
    assert!(
        page.body.contains("href=\"/account#feed\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("同一時間"), "{}", page.body);
    // A signed-in page as the others: its script, never cached.
    assert!(page.signed_in_script("data-session").is_some());
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

/// The sample's 調解 of PCD 簡 33, cancelled by the court: the API lists
/// it with its state and the case page says 已取消, but it is not a
/// hearing to come. And a reader sees no one else's.
/// The review of the fifty-fourth session's change: a hearing that had
/// just begun (勘驗 14:00, read at 14:01) left 我的庭期 and the API's list
/// while its case page still listed it, under a day headed 今天: the
/// lawyer running late lost the courtroom from the page made for that
/// moment. Today's hearings stay all day, as on the case page.
#[test]
fn a_hearing_under_way_stays_listed_until_its_day_ends() {
    let data = Data::sample();
    let server = Server::start_at(&data, "2026-11-25 06:01:00", &[]);
    let mut c = signed_in(&server, &data, LAWYER);
    let page = c.get("/hearings");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(days(&page.body)[0], "115/11/25（三）今天", "{}", page.body);
    assert_eq!(times(&page.body)[0], "14:00", "{}", page.body);
    assert!(page.body.contains("勘驗"), "{}", page.body);
    let token = c.api_token(LAWYER, PASSWORD);
    let api = api_listed(&mut c, &token, &["scheduled", "uncertain"]);
    assert!(api[0].starts_with(CASE77), "{api:?}");
    assert_eq!(api.len(), listed(&page.body).len(), "{api:?}");
}

#[test]
fn a_cancelled_hearing_is_not_listed_and_no_reader_sees_anothers() {
    let data = Data::sample();
    let server = Server::start_at(&data, SAMPLE_MORNING, &[]);
    let mut c = signed_in(&server, &data, FISHMONGER);
    let page = c.get("/hearings");
    assert_eq!(page.status, 200);
    let rows = listed(&page.body);
    assert_eq!(rows.len(), 1, "{}", page.body);
    assert_eq!(case_of(&rows[0]), CASE33);
    assert_eq!(days(&page.body), ["115/12/01（二）6 天後"]);
    assert_eq!(times(&page.body), ["09:30"]);
    assert!(!page.body.contains("調解"), "{}", page.body);
    assert!(!page.body.contains("115/11/27"), "{}", page.body);
    let case = c.get(CASE33);
    assert!(case.body.contains("（已取消）"), "{}", case.body);
    let token = c.api_token(FISHMONGER, PASSWORD);
    let cancelled = api_listed(&mut c, &token, &["cancelled"]);
    assert_eq!(cancelled.len(), 1, "the API lists it, cancelled");
    assert!(!rows.contains(&cancelled[0]));
    // No one else's: lawyer.chen's cases are TPD's, fishmonger's PCD's,
    // and wang.ming shares one of lawyer.chen's.
    assert!(!page.body.contains("/cases/TPD/"), "{}", page.body);
    let mut lawyer = signed_in(&server, &data, LAWYER);
    let theirs = lawyer.get("/hearings");
    assert!(!theirs.body.contains("/cases/PCD/"), "{}", theirs.body);
    let mut wang = signed_in(&server, &data, WANG);
    let of: Vec<String> = listed(&wang.get("/hearings").body)
        .iter()
        .map(|l| case_of(l).to_string())
        .collect();
    assert_eq!(of, [CIVIL100]);
}

/// A prosecutor signed in through the single sign-on: the hearings of the
/// queryable cases assigned to their MOJ account (chen.wm: 刑事 115 訴 100;
/// night 2 gave 交易 45 to lin_yt-01, whose hearings are past), through the
/// same `Viewer` as their case pages. (By the real clock, which the
/// provider's tokens are dated by: night 2 with 刑事 115 訴 100's 宣判 and
/// 民事 115 訴 100's 言詞辯論, not chen.wm's, ten years on.)
#[test]
fn a_prosecutor_sees_the_hearings_of_the_cases_assigned_to_them() {
    let data = Data::empty();
    data.import("20261123");
    // Ten years ahead of the real clock, which the sign-on's provider
    // needs: to come whenever the test runs.
    let y = chrono::Datelike::year(&chrono::Utc::now()) - 1911 + 10;
    let (at15, at10) = (format!("{y}/12/15 10:00"), format!("{y}/12/10 10:00"));
    data.import_changed(
        "20261124",
        "TPD_progress.csv",
        &[("115/12/15 10:00", &at15), ("115/12/10 10:00", &at10)],
    );
    let op = sso::provider::Op::start(&[]);
    let server = sso::server(&data, &op, &[]);
    let mut c = Client::new(&server);
    assert_eq!(sso::sign_in(&mut c, "chen.wm").status, 303);
    let page = c.get("/hearings");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("chen.wm（檢察官）"), "{}", page.body);
    let rows = listed(&page.body);
    let of: Vec<&str> = rows.iter().map(|l| case_of(l)).collect();
    assert_eq!(of, [CRIMINAL100], "{}", page.body);
    let day = days(&page.body);
    assert!(day[0].starts_with(&format!("{y}/12/15（")), "{day:?}");
    assert_eq!(times(&page.body), ["10:00"]);
    assert!(page.body.contains("宣判"));
    assert!(!page.body.contains(&format!("{y}/12/10")), "{}", page.body);
    let file = c.get(&rows[0]);
    assert_eq!(file.status, 200, "{}", file.body);
    let mut other = Client::new(&server);
    assert_eq!(sso::sign_in(&mut other, "lin_yt-01").status, 303);
    let none = other.get("/hearings");
    assert_eq!(none.status, 200, "{}", none.body);
    assert!(listed(&none.body).is_empty(), "{}", none.body);
    assert!(none.body.contains("目前沒有排定的庭期"), "{}", none.body);
}

/// Signed out, the page leads to the login, which comes back to it (a
/// later page of it too), as a case's address does; a session that ended
/// says so.
#[test]
fn signed_out_the_hearings_page_leads_to_the_login_and_back() {
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    assert_eq!(c.activate(&data, WANG, PASSWORD).status, 303);
    for asked in ["/hearings", "/hearings?page=2"] {
        let mut c = Client::new(&server);
        let r = c.get(asked);
        assert_eq!(r.status, 303, "{asked}");
        let to = format!("/login?next={}", enc(asked));
        assert_eq!(r.header("location"), Some(to.as_str()), "{asked}");
        let page = c.get(&to);
        assert_eq!(page.field("next").replace("&#38;", "&"), asked);
        let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
        let r = c.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("captcha_id", &id),
                ("captcha", CAPTCHA),
                ("email", WANG),
                ("password", PASSWORD),
                ("next", asked),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location"), Some(asked));
        assert_eq!(c.get(asked).status, 200);
    }
    // A session that has ended: to the login, saying so, as the list does.
    c.cookies.insert("sid".into(), "0".repeat(64));
    let r = c.get("/hearings");
    assert_eq!(
        r.header("location"),
        Some(format!("/login?m=expired&next={}", enc("/hearings")).as_str())
    );
    assert_eq!(c.get("/cases").header("location"), Some("/login?m=expired"));
}

/// In the nightly maintenance window the page answers exactly as the list
/// of cases does, signed in or not: 503, when service resumes.
#[test]
fn in_the_maintenance_window_the_hearings_page_answers_as_the_cases_do() {
    let data = Data::sample();
    let open = Server::start(&data, &[]);
    let mut signed = signed_in(&open, &data, WANG);
    let start = taipei_clock(chrono::Duration::minutes(-1));
    let end = taipei_clock(chrono::Duration::minutes(3));
    let closed = Server::start(
        &data,
        &[
            ("CPOR_SERVER_MAINTENANCE_START", &start),
            ("CPOR_SERVER_MAINTENANCE_END", &end),
        ],
    );
    signed.base = closed.base.clone();
    let mut anon = Client::new(&closed);
    for c in [&mut signed, &mut anon] {
        let cases = c.get("/cases");
        let hearings = c.get("/hearings");
        assert_eq!(cases.status, 503);
        assert_eq!(hearings.status, cases.status);
        assert_eq!(hearings.body, cases.body);
        assert!(hearings.body.contains(&format!("將於 {end}")));
        let wait: u64 = hearings.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=240).contains(&wait), "{wait}");
    }
}

/// Two hearings at one time (a lawyer's two cases, one court): each says
/// so, as the day's reminder does, counted over the whole list, not the
/// page it is on. The sample's night 2 with 民事 115 訴 100's 言詞辯論 on
/// 115/12/15 10:00, the hour of 刑事 115 訴 100's 宣判.
#[test]
fn two_hearings_at_one_time_each_say_so() {
    let data = Data::empty();
    data.import("20261123");
    data.send();
    data.import_changed(
        "20261124",
        "TPD_progress.csv",
        &[("115/12/10 10:00", "115/12/15 10:00")],
    );
    data.send();
    let server = Server::start_at(
        &data,
        SAMPLE_MORNING,
        &[("CPOR_SERVER_CASES_PER_PAGE", "3")],
    );
    let mut c = signed_in(&server, &data, LAWYER);
    let first = c.get("/hearings");
    let second = c.get("/hearings?page=2");
    let both = [first.body.clone(), second.body.clone()].concat();
    let of: Vec<String> = listed(&both)
        .iter()
        .map(|l| case_of(l).to_string())
        .collect();
    assert_eq!(of.len(), 4, "{both}");
    assert_eq!(&of[..2], [CASE77, CASE77]);
    let mut last: Vec<&str> = of[2..].iter().map(String::as_str).collect();
    last.sort();
    assert_eq!(last, [CRIMINAL100, CIVIL100]);
    let t = [times(&first.body), times(&second.body)].concat();
    assert_eq!(t, ["14:00", "10:30", "10:00", "10:00"]);
    // Said beside what each is, once a row, not in the row's header (a
    // screen reader read it again with every cell: the review of the
    // change).
    let note = "（同一時間另有 1 個庭期）";
    let what = [kinds(&first.body), kinds(&second.body)].concat();
    assert!(
        !what[0].contains(note) && !what[1].contains(note),
        "{what:?}"
    );
    assert!(
        what[2].ends_with(note) && what[3].ends_with(note),
        "{what:?}"
    );
    // The day the second page goes on with says so.
    let day = |body: &str| days(body).last().unwrap().clone();
    assert!(!day(&first.body).contains("續"), "{}", first.body);
    assert_eq!(
        days(&second.body)[0],
        format!("{}（續前頁）", day(&first.body))
    );
    // wang.ming follows 民事 115 訴 100 alone: nothing at one time for them.
    let mut wang = signed_in(&server, &data, WANG);
    let theirs = wang.get("/hearings");
    assert_eq!(times(&theirs.body), ["10:00"], "{}", theirs.body);
}

/// With none to come, the page says no hearing is scheduled; a long list
/// comes in pages (`server.cases_per_page`, as the list of cases), past
/// the last one the last.
#[test]
fn with_none_to_come_the_page_says_so_and_a_long_list_comes_in_pages() {
    let data = Data::sample();
    let server = Server::start_at(
        &data,
        SAMPLE_MORNING,
        &[("CPOR_SERVER_CASES_PER_PAGE", "3")],
    );
    let mut li = signed_in(&server, &data, LI);
    let none = li.get("/hearings");
    assert_eq!(none.status, 200);
    assert!(none.body.contains("目前沒有排定的庭期"), "{}", none.body);
    assert!(!none.body.contains("<table"), "{}", none.body);
    assert!(listed(&none.body).is_empty());

    let mut c = signed_in(&server, &data, LAWYER);
    let first = c.get("/hearings");
    assert_eq!(listed(&first.body).len(), 3, "{}", first.body);
    assert!(
        first.body.contains("共 4 個庭期，第 1／2 頁"),
        "{}",
        first.body
    );
    assert!(
        first.body.contains("href=\"/hearings?page=2\""),
        "{}",
        first.body
    );
    let second = c.get("/hearings?page=2");
    let rows = listed(&second.body);
    assert_eq!(rows.len(), 1, "{}", second.body);
    assert_eq!(case_of(&rows[0]), CRIMINAL100);
    assert!(second.body.contains("第 2／2 頁"), "{}", second.body);
    assert!(second.body.contains("href=\"/hearings?page=1\""));
    for past_the_last in ["/hearings?page=9", "/hearings?page=x"] {
        let page = c.get(past_the_last);
        assert_eq!(page.status, 200);
        let expected = if past_the_last.ends_with('x') {
            &first.body
        } else {
            &second.body
        };
        assert_eq!(listed(&page.body), listed(expected), "{past_the_last}");
    }
}
