//! Hearings as clerks write them into progress entries: announced
//! (`115/12/01 10:00第一法庭言詞辯論`, in the forms clerks vary: `9:30`,
//! full-width digits, `1151201`), moved (`…（改期）`, `原定…改期至…`,
//! `言詞辯論改期`) and cancelled (`…庭期取消`). Each text comes with what it
//! means, so tests can check that the import reads back what was written
//! (`etl::hearings`). Public for those tests; the batches use it through
//! `text`.

use chrono::{Days, NaiveDate, NaiveDateTime};

use crate::rng::Rng;
use schemas::date::roc;

/// Courtrooms as written.
pub const ROOMS: &[&str] = &[
    "第一法庭",
    "第二法庭",
    "第三法庭",
    "第五法庭",
    "第七法庭",
    "第八法庭",
    "第十法庭",
    "第十二法庭",
    "第十三法庭",
    "第十五法庭",
    "第二十法庭",
    "第3法庭",
    "第15法庭",
    "第二家事法庭",
    "大法庭",
    "調解室",
    "家事調解室",
];

/// Kinds as written; `None`: the text names none (read as 開庭).
pub const KINDS: &[Option<&str>] = &[
    Some("言詞辯論"),
    Some("準備程序"),
    Some("審理"),
    Some("調解"),
    Some("宣判"),
    Some("訊問"),
    None,
];

/// A hearing: when, where, what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hearing {
    pub at: NaiveDateTime,
    pub room: &'static str,
    pub kind: Option<&'static str>,
}

/// How an announcement is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `115/12/01 09:30第三法庭準備程序`
    Plain,
    /// `115/12/01 9:30 第三法庭準備程序`: the hour unpadded, a space.
    Loose,
    /// `１１５／１２／０１　０９：３０第三法庭準備程序`
    FullWidth,
    /// `1151201 09:30第三法庭準備程序`
    Compact,
    /// The plain form and a second line: `…\r\n請攜帶身分證明文件到庭`.
    Note,
}

impl Form {
    pub const ALL: [Form; 5] = [
        Form::Plain,
        Form::Loose,
        Form::FullWidth,
        Form::Compact,
        Form::Note,
    ];

    /// Mostly plain, as courts write.
    pub fn draw(rng: &mut Rng) -> Form {
        *rng.weighted(&[
            (Form::Plain, 85),
            (Form::Loose, 5),
            (Form::FullWidth, 3),
            (Form::Compact, 3),
            (Form::Note, 4),
        ])
    }
}

/// How a move is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// The new hearing, marked: `115/12/17 10:30第十二法庭言詞辯論（改期）`.
    Marked,
    /// `原定115/12/03 10:30言詞辯論改期至115/12/17 10:30第十二法庭`.
    FromTo,
    /// No new date yet: `言詞辯論改期` (or 延期).
    Dateless,
}

/// How a cancellation is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// `115/12/03 10:30言詞辯論庭期取消`
    Dated,
    /// `言詞辯論庭期取消`
    Kind,
    /// `庭期取消`
    Bare,
}

fn hhmm(at: NaiveDateTime) -> String {
    at.format("%H:%M").to_string()
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32('０' as u32 + (c as u32 - '0' as u32)).expect("digit"),
            '/' => '／',
            ':' => '：',
            ' ' => '\u{3000}',
            c => c,
        })
        .collect()
}

impl Hearing {
    /// A hearing 7 to 46 days after `posted`, in office hours.
    pub fn draw(rng: &mut Rng, posted: NaiveDate) -> Hearing {
        let day = posted + Days::new(7 + rng.below(40));
        Hearing {
            at: day
                .and_hms_opt(9 + rng.below(7) as u32, *rng.pick(&[0u32, 30, 40]), 0)
                .expect("office hours"),
            room: rng.choose(ROOMS),
            kind: *rng.pick(KINDS),
        }
    }

    /// The same kind on a later day (a move).
    pub fn later(&self, rng: &mut Rng) -> Hearing {
        let day = self.at.date() + Days::new(7 + rng.below(30));
        Hearing {
            at: day.and_time(self.at.time()),
            room: if rng.chance(0.8) {
                self.room
            } else {
                rng.choose(ROOMS)
            },
            kind: self.kind,
        }
    }

    fn kind_text(&self) -> &'static str {
        self.kind.unwrap_or("")
    }

    /// The announcement.
    pub fn text(&self, form: Form) -> String {
        let (date, time) = (roc(self.at.date()), hhmm(self.at));
        let (room, kind) = (self.room, self.kind_text());
        match form {
            Form::Plain => format!("{date} {time}{room}{kind}"),
            Form::Loose => format!("{date} {} {room}{kind}", self.at.format("%-H:%M")),
            Form::FullWidth => format!("{}{room}{kind}", full_width(&format!("{date} {time}"))),
            Form::Compact => format!(
                "{:03}{} {time}{room}{kind}",
                schemas::date::roc_year(self.at.date()),
                self.at.format("%m%d")
            ),
            Form::Note => format!("{date} {time}{room}{kind}\r\n請攜帶身分證明文件到庭"),
        }
    }

    /// A move of this hearing to `to` (`to` is ignored by `Move::Dateless`).
    pub fn moved(&self, how: Move, to: &Hearing) -> String {
        match how {
            Move::Marked => format!("{}（改期）", to.text(Form::Plain)),
            Move::FromTo => format!(
                "原定{} {}{}改期至{} {}{}",
                roc(self.at.date()),
                hhmm(self.at),
                self.kind_text(),
                roc(to.at.date()),
                hhmm(to.at),
                to.room
            ),
            Move::Dateless => format!("{}改期", self.kind_text()),
        }
    }

    /// A cancellation of this hearing.
    pub fn cancelled(&self, how: Cancel) -> String {
        match how {
            Cancel::Dated => format!(
                "{} {}{}庭期取消",
                roc(self.at.date()),
                hhmm(self.at),
                self.kind_text()
            ),
            Cancel::Kind => format!("{}庭期取消", self.kind_text()),
            Cancel::Bare => "庭期取消".into(),
        }
    }
}

/// What a later entry does to a hearing still to come, if anything: about
/// one in seven such entries moves it (three in four) or cancels it.
/// Gives the text and the hearing that stands after it (`None`: cancelled,
/// or moved with no date yet).
pub fn change(rng: &mut Rng, h: &Hearing) -> Option<(String, Option<Hearing>)> {
    if !rng.chance(0.15) {
        return None;
    }
    if rng.chance(0.75) {
        let to = h.later(rng);
        let how = *rng.weighted(&[(Move::Marked, 6), (Move::FromTo, 2), (Move::Dateless, 2)]);
        // A move without a date needs a kind to name.
        let how = if h.kind.is_none() && how == Move::Dateless {
            Move::Marked
        } else {
            how
        };
        let standing = (how != Move::Dateless).then_some(to);
        Some((h.moved(how, &to), standing))
    } else {
        let how = *rng.weighted(&[(Cancel::Dated, 5), (Cancel::Kind, 3), (Cancel::Bare, 2)]);
        let how = if h.kind.is_none() && how == Cancel::Kind {
            Cancel::Dated
        } else {
            how
        };
        Some((h.cancelled(how), None))
    }
}
