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
            let indexed = |part: Part| self.index.iter().filter(|c| Part::of(c) == part).count();
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
