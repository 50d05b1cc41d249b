//! The parts a digest lists its cases in, and their headings: the order a
//! cut list keeps ([`View::trim`]) made visible, so that a reader of many
//! cases sees where the hearings' changes end and the rulings begin, and
//! that the index after them names cases not shown in full (a review of
//! the digest's layout found one long run of cases, unlabelled).
//!
//! The parts are the ranks `trim` keeps, no others: a heading names what
//! the ranking read, never a kind of news nothing sorts by. A digest lists
//! its cases part by part whatever its length, each part in its order;
//! headings show only where they tell something ([`View::parts`]). The
//! other kinds that list cases (grant mails, expiry warnings) are one list
//! without headings: their cases are not news of different weight.

use super::{CaseView, HearingNews, View};

/// A part of a digest's list, in the order a cut list keeps them
/// ([`View::trim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Its hearings corrected without news (`CaseView::hearings`), or its
    /// news moves, cancels or otherwise changes one.
    HearingsChanged,
    /// Its news is a ruling ([`CaseView::rules`]).
    Rulings,
    /// Its news announces a hearing.
    HearingsAnnounced,
    /// Any other: routine news, a case newly assigned or back.
    Other,
}

impl Part {
    pub fn of(case: &CaseView) -> Part {
        match (case.hearings.is_empty(), case.hearing_news) {
            (false, _) | (true, HearingNews::Changed) => Part::HearingsChanged,
            _ if case.rules() => Part::Rulings,
            (true, HearingNews::Announced) => Part::HearingsAnnounced,
            (true, HearingNews::None) => Part::Other,
        }
    }

    /// What its heading calls it.
    pub fn name(self) -> &'static str {
        match self {
            Part::HearingsChanged => "庭期異動",
            Part::Rulings => "裁判",
            Part::HearingsAnnounced => "庭期通知",
            Part::Other => "其他進度",
        }
    }
}

/// A digest that lists fewer cases in full than this shows no headings: it
/// is read whole at a glance, and a heading over each of one or two cases
/// would say no more than its entries and the subject do.
pub const HEADED_FROM: usize = 3;

/// Cases a mail lists in full, under a heading or none.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// `庭期異動（2 件）`: the text part puts it in 【】, the HTML part in an
    /// `<h2>`.
    pub heading: Option<String>,
    pub cases: Vec<&'a CaseView>,
}

impl View {
    /// The cases it lists in full, as its template shows them. A digest's
    /// (`by_part`) in their parts, in [`Part`]'s order, each part in the
    /// list's order; headed when it lists at least [`HEADED_FROM`] cases
    /// and they fall in two parts or more (one part alone has no boundary
    /// to show), an empty part never; else one list, in the parts' order.
    /// Any other mail's: one list, as it is.
    pub fn parts(&self, by_part: bool) -> Vec<Group<'_>> {
        let mut parts: Vec<(Part, Vec<&CaseView>)> = Vec::new();
        for case in &self.cases {
            let part = match by_part {
                true => Part::of(case),
                false => Part::Other,
            };
            match parts.iter_mut().find(|(p, _)| *p == part) {
                Some((_, cases)) => cases.push(case),
                None => parts.push((part, vec![case])),
            }
        }
        parts.sort_by_key(|(part, _)| *part);
        if parts.len() > 1 && self.cases.len() >= HEADED_FROM {
            // A part the cut sent cases of to the index says how many of
            // its cases it lists: its count alone read as the part's whole.
            let index: Vec<Part> = self.index.iter().map(Part::of).collect();
            let indexed = |part: Part| index.iter().filter(|p| **p == part).count();
            return parts
                .into_iter()
                .map(|(part, cases)| Group {
                    heading: Some(match indexed(part) {
                        0 => format!("{}（{} 件）", part.name(), cases.len()),
                        k => format!(
                            "{}（列出 {} 件，另 {k} 件見文末）",
                            part.name(),
                            cases.len()
                        ),
                    }),
                    cases,
                })
                .collect();
        }
        // (one list, in the parts' order)
        let cases: Vec<&CaseView> = parts.into_iter().flat_map(|(_, cases)| cases).collect();
        match cases.is_empty() {
            true => Vec::new(),
            false => vec![Group {
                heading: None,
                cases,
            }],
        }
    }

    /// The heading of its index ([`View::index`]), which names the cases
    /// after those listed in full, each on a line: how many, what each
    /// line shows, and, past [`super::MAX_INDEXED`], that these are the
    /// first of the rest (the mail says how many more after them).
    pub fn index_heading(&self) -> String {
        let shows = if self.index_has_entries() {
            "僅列最新進度"
        } else if self.index.iter().any(|c| c.last_day.is_some()) {
            "僅列案號及最後可查詢日"
        } else {
            "僅列案號"
        };
        let n = self.index.len();
        match self.more {
            0 => format!("其餘 {n} 件案件（{shows}）"),
            more => format!("其餘 {} 件案件中的 {n} 件（{shows}）", n + more),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{case, check_as, day, view};
    use super::super::*;

    /// A review of the digest's layout: a lawyer with news on
    /// many cases read one run of them and could not tell where the
    /// hearings' changes ended and the rulings began. A digest of several
    /// parts lists them in the order a cut list keeps, each under its
    /// heading with how many it lists (a text line in 【】, an `<h2>` over
    /// a list), and none for a part it does not have.
    #[test]
    fn a_digest_of_several_kinds_of_news_says_where_each_part_begins() {
        let routine = CaseView::new(&case("TPD", "民事", "訴", 1)).entry(day(24), "收狀", None);
        let mut announced = CaseView::new(&case("TPD", "民事", "訴", 2)).entry(
            day(24),
            "120/06/10 10:00第一法庭準備程序",
            None,
        );
        announced.hearing_news = HearingNews::Announced;
        let ruling = CaseView::new(&case("TPD", "民事", "訴", 3)).entry(
            day(24),
            "本院於115年11月20日所為之判決，茲送達判決正本予原告",
            None,
        );
        let mut moved = CaseView::new(&case("TPD", "民事", "訴", 4)).entry(
            day(24),
            "120/06/17 10:00第一法庭言詞辯論(改期)",
            Some((day(24), "120/06/03 10:00第一法庭言詞辯論")),
        );
        moved.hearing_news = HearingNews::Changed;
        let mut corrected = CaseView::new(&case("TPD", "民事", "重訴", 77));
        corrected.hearings = vec![
            "117/03/10（五）10:00 準備程序 臺灣臺北地方法院 第十二法庭：本服務已無此庭期資料（原登載此庭期的進行事項已刪除或更正），附檔會從行事曆移除此行程；是否仍須到庭，請以傳票或通知書為準，或洽承辦股".into(),
        ];
        let other = CaseView::new(&case("TPD", "民事", "訴", 6)).entry(
            day(24),
            "檢送卷宗予民事執行處",
            None,
        );
        let titles = [&moved, &corrected, &ruling, &routine, &other].map(|c| c.title.clone());
        let mut v = view(vec![routine, announced, ruling, moved, corrected, other]);
        v.hearings_changed = true;
        v.finish(Kind::Digest, true);
        let (text, html) = bodies(Kind::Digest, &v).unwrap();
        // Each part's heading, then its cases, in the cut list's order.
        let at = |body: &str, what: &str| {
            body.find(what)
                .unwrap_or_else(|| panic!("no `{what}`:\n{body}"))
        };
        let order = [
            "\n【庭期異動（2 件）】\n\n■ ",
            &titles[0],
            &titles[1],
            "\n【裁判（1 件）】\n\n■ ",
            &titles[2],
            "\n【庭期通知（1 件）】\n\n■ ",
            "\n【其他進度（2 件）】\n\n■ ",
            &titles[3],
            &titles[4],
        ]
        .map(|w| at(&text, w));
        assert!(order.is_sorted(), "{order:?}\n{text}");
        let order = [
            "<h2>庭期異動（2 件）</h2>\n<ul class=\"cases\" role=\"list\">\n<li class=\"case\">",
            "<h2>裁判（1 件）</h2>\n<ul class=\"cases\" role=\"list\">",
            "<h2>庭期通知（1 件）</h2>\n<ul class=\"cases\" role=\"list\">",
            "<h2>其他進度（2 件）</h2>\n<ul class=\"cases\" role=\"list\">",
        ]
        .map(|w| at(&html, w));
        assert!(order.is_sorted(), "{order:?}\n{html}");
        assert_eq!(html.matches("<li class=\"case\">").count(), 6, "{html}");
        // The subject and the opening as they were: every case, and news.
        assert_eq!(
            v.subject,
            "【案件進度查詢】您關注的 6 件案件有新進行事項，含庭期異動"
        );
        assert!(
            text.contains("\n您關注的案件有新的進行事項（115/11/24 資料）：\n\n【庭期異動"),
            "{text}"
        );
        check_as(Kind::Digest, "digest-parts", v);
    }

    /// A day set for pronouncing judgment (`定115/12/24 16:00宣判`) is a
    /// hearing announced, not a ruling: nothing runs from it yet, and
    /// under 裁判 it read as a judgment given. A judgment served, or one
    /// pronounced (`宣判` with no time set), is a ruling.
    #[test]
    fn a_day_set_for_judgment_is_a_hearing_announced_not_a_ruling() {
        let news =
            |text: &str| CaseView::new(&case("TPD", "刑事", "訴", 1)).entry(day(24), text, None);
        assert!(!news("定115/12/24 16:00宣判").rules());
        assert!(!news("115/12/24 16:00第五法庭宣判").rules());
        assert!(news("本件業已宣判").rules());
        assert!(news("送達判決正本").rules());
        assert!(news("裁定駁回").rules());
    }

    /// Headings only where they tell something (`View::parts`): a digest of
    /// one part says what it is in its subject and opening, and one of one
    /// or two cases is read whole at a glance; it still lists a hearing's
    /// change first. A grant mail is one list, as it is given. The index
    /// has its heading whenever there is one.
    #[test]
    fn a_digest_of_one_part_or_of_one_or_two_cases_has_no_headings() {
        let routine =
            |n: u32| CaseView::new(&case("TPD", "民事", "訴", n)).entry(day(24), "收狀", None);
        let mut moved =
            CaseView::new(&case("TPD", "民事", "訴", 9)).entry(day(24), "言詞辯論期日取消", None);
        moved.hearing_news = HearingNews::Changed;
        let no_headings = |v: &View, kind: Kind| {
            let by_part = kind == Kind::Digest;
            assert!(v.parts(by_part).iter().all(|g| g.heading.is_none()));
            let (text, html) = bodies(kind, v).unwrap();
            assert!(!text.contains(" 件）】"), "{text}");
            assert!(!html.contains("<h2>"), "{html}");
            assert_eq!(
                html.matches("<ul class=\"cases\" role=\"list\">").count(),
                1,
                "{html}"
            );
            text
        };
        // One part, of five cases.
        let v = view((1..=5).map(routine).collect());
        no_headings(&v, Kind::Digest);
        // Two cases of two parts: the change first, under no heading.
        let two = view(vec![routine(1), moved.clone()]);
        let text = no_headings(&two, Kind::Digest);
        assert!(
            text.find("訴字第9號").unwrap() < text.find("訴字第1號").unwrap(),
            "{text}"
        );
        // A third case: headed.
        let three = view(vec![routine(1), moved.clone(), routine(2)]);
        let (text, html) = bodies(Kind::Digest, &three).unwrap();
        assert!(
            text.contains("\n【庭期異動（1 件）】\n") && text.contains("\n【其他進度（2 件）】\n"),
            "{text}"
        );
        assert_eq!(html.matches("<h2>").count(), 2, "{html}");
        // A grant mail's cases are not news of different weight.
        let text = no_headings(&three, Kind::Approval);
        assert!(
            text.find("訴字第1號").unwrap() < text.find("訴字第9號").unwrap(),
            "{text}"
        );
        // Cut, one part: no heading over the cases in full, the index's.
        let mut long = view((1..=MAX_LISTED as u32 + 4).map(routine).collect());
        long.finish(Kind::Digest, true);
        assert!(long.parts(true).iter().all(|g| g.heading.is_none()));
        let (text, html) = bodies(Kind::Digest, &long).unwrap();
        assert!(
            text.contains("\n【其餘 4 件案件（僅列最新進度）】\n\n□ ") && !text.contains(" 件）】"),
            "{text}"
        );
        assert_eq!(html.matches("<h2>").count(), 1, "{html}");
        // A grant mail whose entries are left out names the rest by number.
        let mut grant = view((1..=MAX_LISTED as u32 + 2).map(routine).collect());
        grant.finish(Kind::Approval, false);
        assert_eq!(grant.index_heading(), "其餘 2 件案件（僅列案號）");
    }
}
