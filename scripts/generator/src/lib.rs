//! Realistic nightly export batches, as `shared/court-export-format.md`
//! defines them, for benchmarks and tests. The same parameters give the same
//! bytes: every case draws from its own random stream, derived from the seed,
//! its court and its index, so courts can be generated in parallel.
//!
//! Shape, at any scale: all 35 courts sized like the real ones; about 15
//! progress rows per case, skewed (1 to 200); texts as courts write them,
//! some with commas, quotes or line breaks, some near 500 characters, a few
//! with user-defined characters; about 3% duplicate versions, 1% revisions,
//! 0.3% withdrawals; three courts in UTF-8 with a BOM, four with compact
//! dates, three with leading zeros; out-of-scope courts and categories;
//! statuses around the two-month cutoff; about two grants per case, with a
//! few lawyers on thousands of cases; hearings announced in about a quarter
//! of the entries, about one in ten of them moved or cancelled by a later
//! entry (`hearings`). Each later night is a full export that differs as
//! real nights do.

pub mod hearings;
mod rng;
mod text;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate, NaiveDateTime};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

pub use rng::Rng;
use text::{hearing_text, Encoding, FileText, UDC_MAPPED};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    /// Cases of the first night, over all courts.
    pub cases: u64,
    pub first_night: NaiveDate,
    pub nights: u32,
    /// Only these courts (all when empty).
    pub courts: Vec<String>,
    /// Share of cases with new entries on each later night (real nights:
    /// about 5%).
    pub news_share: f64,
}

/// Relative caseloads of the 35 courts (about a year's new cases).
const COURT_WEIGHTS: &[(&str, u32)] = &[
    ("TPS", 4),
    ("TPA", 2),
    ("TPH", 30),
    ("TCH", 18),
    ("TNH", 10),
    ("KSH", 14),
    ("HLH", 3),
    ("KMH", 1),
    ("TPB", 8),
    ("TCB", 4),
    ("KSB", 4),
    ("IPC", 6),
    ("TPD", 95),
    ("SLD", 45),
    ("PCD", 110),
    ("ILD", 18),
    ("KLD", 15),
    ("TYD", 90),
    ("SCD", 35),
    ("MLD", 20),
    ("TCD", 100),
    ("CHD", 45),
    ("NTD", 18),
    ("ULD", 25),
    ("CYD", 28),
    ("TND", 60),
    ("KSD", 85),
    ("CTD", 40),
    ("HLD", 14),
    ("TTD", 8),
    ("PTD", 35),
    ("PHD", 4),
    ("KMD", 3),
    ("LCD", 1),
    ("KSY", 20),
];
const UTF8_COURTS: &[&str] = &["PCD", "IPC", "TCB"];
const COMPACT_DATE_COURTS: &[&str] = &["KSD", "CHD", "TTD", "KSY"];
const ZERO_PADDED_COURTS: &[&str] = &["KSD", "ULD", "PTD"];

struct Style {
    encoding: Encoding,
    compact_dates: bool,
    zero_pad: bool,
}

/// Writes `nights` batch directories under `out`; returns them.
pub fn generate(out: &Path, p: &Params) -> anyhow::Result<Vec<PathBuf>> {
    let total: u64 = COURT_WEIGHTS.iter().map(|(_, w)| u64::from(*w)).sum();
    let courts: Vec<(usize, &str, u64)> = COURT_WEIGHTS
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| p.courts.is_empty() || p.courts.iter().any(|x| x == c))
        .map(|(i, (c, w))| (i, *c, (p.cases * u64::from(*w)).div_ceil(total).max(1)))
        .collect();
    let mut dirs = Vec::new();
    for night in 0..p.nights {
        let date = p.first_night + Days::new(u64::from(night));
        let dir = out.join(date.format("%Y%m%d").to_string());
        fs::create_dir_all(&dir)?;
        // Biggest courts first, so two cores finish together.
        let mut order = courts.clone();
        order.sort_by_key(|c| std::cmp::Reverse(c.2));
        let mut listed: Vec<(String, u64, String)> = order
            .par_iter()
            .map(|&(index, code, cases)| write_court(&dir, p, index, code, cases, night))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        listed.sort();
        let mut eudc = String::from("big5,unicode\r\n");
        for (code, c) in UDC_MAPPED {
            let _ = write!(eudc, "{code:04X},{:X}\r\n", *c as u32);
        }
        fs::write(dir.join("EUDC.csv"), eudc)?;
        let mut manifest = String::from("file,rows,sha256\r\n");
        for (name, rows, sha) in &listed {
            let _ = write!(manifest, "{name},{rows},{sha}\r\n");
        }
        fs::write(dir.join("MANIFEST.csv"), manifest)?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// One case as it stands on a night.
struct Case {
    category: &'static str,
    year: u32,
    word: &'static str,
    number: u64,
    division: &'static str,
    status: &'static str,
    status_date: Option<NaiveDate>,
}

struct ProgressRow {
    seq: u32,
    posted: NaiveDate,
    text: String,
    modified: NaiveDateTime,
    withdrawn: bool,
}

struct GrantRow {
    role: &'static str,
    email: String,
    decided: NaiveDate,
    approved: bool,
}

fn write_court(
    dir: &Path,
    p: &Params,
    court_index: usize,
    code: &str,
    cases: u64,
    night: u32,
) -> anyhow::Result<Vec<(String, u64, String)>> {
    let style = Style {
        encoding: if UTF8_COURTS.contains(&code) {
            Encoding::Utf8
        } else {
            Encoding::Cp950
        },
        compact_dates: COMPACT_DATE_COURTS.contains(&code),
        zero_pad: ZERO_PADDED_COURTS.contains(&code),
    };
    let contract = schemas::contract();
    let mut files = [
        (
            "case",
            FileText::new(&contract.files.case.columns, style.encoding),
        ),
        (
            "progress",
            FileText::new(&contract.files.progress.columns, style.encoding),
        ),
        (
            "applicant",
            FileText::new(&contract.files.applicant.columns, style.encoding),
        ),
        (
            "prosecutor",
            FileText::new(&contract.files.prosecutor.columns, style.encoding),
        ),
    ];
    let first = p.first_night;
    let tonight = first + Days::new(u64::from(night));
    // Later nights bring about 0.2% new cases each.
    let total_cases = cases + cases * u64::from(night) / 500;
    let mut row = Vec::new();
    for idx in 0..total_cases {
        let born_night = if idx < cases {
            0
        } else {
            1 + ((idx - cases) * 500 / cases.max(1)) as u32
        };
        if born_night > night {
            break;
        }
        let mut rng = Rng::new(&[p.seed, court_index as u64, idx]);
        let (mut case, progress, grants, prosecutors) =
            case_history(&mut rng, code, idx, first, born_night);
        let mut extra_progress = Vec::new();
        let mut extra_grants = Vec::new();
        for n in born_night.max(1)..=night {
            let mut nrng = Rng::new(&[p.seed, court_index as u64, idx, u64::from(n)]);
            let day = first + Days::new(u64::from(n));
            later_night(
                &mut nrng,
                p.news_share,
                &mut case,
                &progress,
                &grants,
                day,
                &mut extra_progress,
                &mut extra_grants,
            );
        }
        let key = key_fields(code, &case, &style);
        // case
        row.clear();
        row.extend(key.iter().cloned());
        row.push(case.division.to_string());
        row.push(case.status.to_string());
        row.push(
            case.status_date
                .map(|d| date(d, &style))
                .unwrap_or_default(),
        );
        files[0].1.row(&row);
        for r in progress.iter().chain(&extra_progress) {
            row.clear();
            row.extend(key.iter().cloned());
            row.push(pad(u64::from(r.seq), style.zero_pad && r.seq % 7 == 0, 3));
            row.push(date(r.posted, &style));
            row.push(r.text.clone());
            row.push(format!(
                "{} {}",
                date(r.modified.date(), &style),
                r.modified.format("%H:%M:%S")
            ));
            row.push(if r.withdrawn {
                "Y".into()
            } else if r.seq % 5 == 0 {
                String::new()
            } else {
                "N".into()
            });
            files[1].1.row(&row);
        }
        for g in grants.iter().chain(&extra_grants) {
            row.clear();
            row.extend(key.iter().cloned());
            row.push(g.role.to_string());
            row.push(g.email.clone());
            row.push(date(g.decided, &style));
            row.push(if g.approved { "核准" } else { "撤銷" }.to_string());
            files[2].1.row(&row);
        }
        for account in &prosecutors {
            row.clear();
            row.extend(key.iter().cloned());
            row.push(account.clone());
            files[3].1.row(&row);
        }
        let _ = tonight;
    }
    let mut listed = Vec::new();
    for (kind, text) in files {
        if kind == "prosecutor" && text.records == 0 {
            continue;
        }
        let name = format!("{code}_{kind}.csv");
        let records = text.records;
        let bytes = text.finish();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        fs::write(dir.join(&name), &bytes)?;
        listed.push((name, records, sha));
    }
    Ok(listed)
}

fn pad(n: u64, zeros: bool, width: usize) -> String {
    if zeros {
        format!("{n:0width$}", width = width + 2)
    } else {
        n.to_string()
    }
}

fn key_fields(code: &str, c: &Case, style: &Style) -> [String; 5] {
    [
        code.to_string(),
        c.category.to_string(),
        pad(u64::from(c.year), style.zero_pad, 3),
        c.word.to_string(),
        pad(c.number, style.zero_pad, 5),
    ]
}

fn date(d: NaiveDate, style: &Style) -> String {
    use chrono::Datelike;
    let y = schemas::date::roc_year(d);
    if style.compact_dates {
        format!("{y:03}{:02}{:02}", d.month(), d.day())
    } else {
        format!("{y}/{:02}/{:02}", d.month(), d.day())
    }
}

const CATEGORIES: &[(&str, u32)] = &[
    ("民事", 42),
    ("刑事", 33),
    ("家事", 10),
    ("行政", 4),
    ("少年", 4),
    ("非訟", 7),
];
const ADMIN_CATEGORIES: &[(&str, u32)] = &[("行政", 95), ("民事", 5)];
const KSY_CATEGORIES: &[(&str, u32)] = &[("家事", 60), ("少年", 40)];
const IPC_CATEGORIES: &[(&str, u32)] = &[("民事", 60), ("刑事", 25), ("行政", 15)];

fn words(category: &str) -> &'static [&'static str] {
    match category {
        "民事" => &[
            "訴",
            "簡上",
            "重訴",
            "簡",
            "小上",
            "訴更一",
            "消債",
            "建",
            "勞訴",
            "重上",
        ],
        "刑事" => &[
            "訴", "易", "簡", "交易", "簡上", "金訴", "侵訴", "原訴", "上訴", "交簡",
        ],
        "家事" => &["家親聲", "家訴", "家繼訴", "婚", "家護", "家暫"],
        "行政" => &["訴", "簡上", "交", "停", "全"],
        "少年" => &["少調", "少護", "少連"],
        _ => &["司促", "聲", "司拍", "司繼"],
    }
}

const DIVISIONS: &[&str] = &[
    "忠", "孝", "仁", "愛", "信", "義", "和", "平", "A", "B", "C", "忠股", "孝股", "禮股", "甲",
    "乙", "",
];

/// Everything a case has on its first night.
fn case_history(
    rng: &mut Rng,
    code: &str,
    idx: u64,
    first: NaiveDate,
    born_night: u32,
) -> (Case, Vec<ProgressRow>, Vec<GrantRow>, Vec<String>) {
    let cats = match code {
        "TPB" | "TCB" | "KSB" => ADMIN_CATEGORIES,
        "KSY" => KSY_CATEGORIES,
        "IPC" => IPC_CATEGORIES,
        _ => CATEGORIES,
    };
    let category = *rng.weighted(cats);
    let year = *rng.weighted(&[
        (110u32, 3),
        (111, 4),
        (112, 8),
        (113, 15),
        (114, 30),
        (115, 40),
    ]);
    let word = *rng.pick(words(category));
    let born = first + Days::new(u64::from(born_night));
    let opened = schemas::date::from_roc(year as i32, 1, 1).unwrap() + Days::new(rng.below(300));
    let opened = opened.min(born - Days::new(1 + rng.below(20)));
    let roll = rng.unit();
    let (status, status_date) = if born_night > 0 || roll < 0.60 {
        ("審理中", None)
    } else if roll < 0.82 {
        ("已終結", Some(first - Days::new(1 + rng.below(700))))
    } else {
        let s = *rng.pick(&["上訴", "抗告", "移送執行", "歸檔"]);
        // Around the cutoff: 0–120 days ago, about half already past it.
        (s, Some(first - Days::new(rng.below(121))))
    };
    let case = Case {
        category,
        year,
        word,
        number: idx + 1,
        division: rng.choose(DIVISIONS),
        status,
        status_date: status_date.map(|d| d.max(opened)),
    };

    // Entries: log-normal count with mean about 15, 1 to 200.
    let n = if born_night > 0 {
        1
    } else {
        ((2.3 + 0.9 * rng.normal()).exp().round() as u32).clamp(1, 200)
    };
    let last_day = born - Days::new(1);
    let span = (last_day - opened).num_days().max(1) as u64;
    let mut progress = Vec::with_capacity(n as usize + 2);
    // The last hearing announced, while it may still be moved or cancelled.
    let mut last_hearing: Option<hearings::Hearing> = None;
    for seq in 1..=n {
        let mut posted = opened + Days::new(span * u64::from(seq) / u64::from(n + 1));
        if rng.chance(0.03) {
            // Posted late: an older date on a newer 序號.
            posted = posted
                - Days::new(
                    rng.below(60)
                        .min((posted - opened).num_days().max(0) as u64),
                );
        }
        let modified = posted
            .and_hms_opt(
                8 + rng.below(10) as u32,
                rng.below(60) as u32,
                rng.below(60) as u32,
            )
            .unwrap();
        let change = last_hearing
            .filter(|h| h.at.date() >= posted)
            .and_then(|h| hearings::change(rng, &h));
        let text = match change {
            Some((text, standing)) => {
                last_hearing = standing;
                text
            }
            None => {
                let (text, hearing) = text::progress_text(rng, posted);
                last_hearing = hearing.or(last_hearing);
                text
            }
        };
        let base = ProgressRow {
            seq,
            posted,
            text,
            modified,
            withdrawn: false,
        };
        if rng.chance(0.03) {
            progress.push(ProgressRow {
                text: base.text.clone(),
                ..base.clone_row()
            });
        }
        let revised = rng.chance(0.01);
        let withdrawn = rng.chance(0.003);
        if revised {
            let later = ProgressRow {
                text: format!("{}（更正）", base.text),
                modified: base.modified + chrono::Duration::minutes(30 + rng.below(3000) as i64),
                ..base.clone_row()
            };
            // The newer version is sometimes written first: order is no guide.
            if rng.chance(0.2) {
                progress.push(later);
                progress.push(base);
            } else {
                progress.push(base);
                progress.push(later);
            }
        } else if withdrawn {
            let gone = ProgressRow {
                withdrawn: true,
                modified: base.modified + chrono::Duration::hours(2),
                ..base.clone_row()
            };
            progress.push(base);
            progress.push(gone);
        } else {
            progress.push(base);
        }
    }
    if rng.chance(0.00002) {
        // A rare exporter slip: an impossible date (rejected on its own).
        let mut bad = progress[0].clone_row();
        bad.seq = n + 1;
        bad.text = "115/02/30".into();
        progress.push(bad);
    }

    let mut grants = Vec::new();
    let parties = *rng.weighted(&[(0u32, 30), (1, 40), (2, 20), (3, 10)]);
    let roles: &[&str] = match category {
        "刑事" => &["告訴人", "被告", "自訴人"],
        "家事" => &["聲請人", "相對人", "法定代理人"],
        _ => &["原告", "被告"],
    };
    for j in 0..parties {
        grants.push(GrantRow {
            role: rng.choose(roles),
            email: text::party_email(rng, code, idx, j),
            decided: opened + Days::new(rng.below(span.min(200) + 1)),
            approved: true,
        });
    }
    let lawyers = *rng.weighted(&[(0u32, 25), (1, 60), (2, 15)]);
    for _ in 0..lawyers {
        grants.push(GrantRow {
            role: if category == "刑事" {
                "辯護人"
            } else {
                "訴訟代理人"
            },
            email: text::lawyer_email(rng),
            decided: opened + Days::new(rng.below(span.min(200) + 1)),
            approved: true,
        });
    }
    // Some grants were revoked later: the last row stands.
    let revoked: Vec<GrantRow> = grants
        .iter()
        .filter(|_| rng.chance(0.04))
        .map(|g| GrantRow {
            role: g.role,
            email: g.email.clone(),
            decided: g.decided + Days::new(3),
            approved: false,
        })
        .collect();
    grants.extend(revoked);

    let mut prosecutors = Vec::new();
    if category == "刑事" && rng.chance(0.85) {
        prosecutors.push(text::prosecutor(rng));
        if rng.chance(0.1) {
            prosecutors.push(text::prosecutor(rng));
        }
    }
    (case, progress, grants, prosecutors)
}

impl ProgressRow {
    fn clone_row(&self) -> ProgressRow {
        ProgressRow {
            seq: self.seq,
            posted: self.posted,
            text: self.text.clone(),
            modified: self.modified,
            withdrawn: self.withdrawn,
        }
    }
}

/// What changes on a later night: new entries on about 5% of cases,
/// revisions, withdrawals, new and revoked grants, status changes.
#[allow(clippy::too_many_arguments)]
fn later_night(
    rng: &mut Rng,
    news_share: f64,
    case: &mut Case,
    progress: &[ProgressRow],
    grants: &[GrantRow],
    day: NaiveDate,
    extra_progress: &mut Vec<ProgressRow>,
    extra_grants: &mut Vec<GrantRow>,
) {
    let next_seq = progress
        .iter()
        .chain(extra_progress.iter())
        .map(|r| r.seq)
        .max()
        .unwrap_or(0)
        + 1;
    let yesterday = day - Days::new(1);
    if rng.chance(news_share) {
        for k in 0..rng.range(1, 2) as u32 {
            let posted = yesterday;
            extra_progress.push(ProgressRow {
                seq: next_seq + k,
                posted,
                text: if rng.chance(0.5) {
                    hearing_text(rng, posted).0
                } else {
                    text::progress_text(rng, posted).0
                },
                modified: posted.and_hms_opt(17, rng.below(60) as u32, 0).unwrap(),
                withdrawn: false,
            });
        }
    }
    if !progress.is_empty() && rng.chance(0.005) {
        let r = &progress[rng.below(progress.len() as u64) as usize];
        extra_progress.push(ProgressRow {
            text: format!("{}（改期）", r.text),
            modified: yesterday.and_hms_opt(18, 0, 0).unwrap(),
            ..r.clone_row()
        });
    }
    if !progress.is_empty() && rng.chance(0.002) {
        let r = &progress[progress.len() - 1];
        extra_progress.push(ProgressRow {
            withdrawn: true,
            modified: yesterday.and_hms_opt(18, 30, 0).unwrap(),
            ..r.clone_row()
        });
    }
    if rng.chance(0.01) {
        extra_grants.push(GrantRow {
            role: "訴訟代理人",
            email: text::lawyer_email(rng),
            decided: yesterday,
            approved: true,
        });
    }
    if !grants.is_empty() && rng.chance(0.005) {
        let g = &grants[rng.below(grants.len() as u64) as usize];
        extra_grants.push(GrantRow {
            role: g.role,
            email: g.email.clone(),
            decided: yesterday,
            approved: false,
        });
    }
    if case.status == "審理中" && rng.chance(0.01) {
        case.status = *rng.pick(&["上訴", "已終結"]);
        case.status_date = Some(yesterday);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(cases: u64) -> Params {
        Params {
            seed: 7,
            cases,
            first_night: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            nights: 2,
            courts: Vec::new(),
            news_share: 0.05,
        }
    }

    fn digest(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = std::env::temp_dir().join(format!("cpor-gen-a-{}", std::process::id()));
        let b = std::env::temp_dir().join(format!("cpor-gen-b-{}", std::process::id()));
        let da = generate(&a, &params(2000)).unwrap();
        let db = generate(&b, &params(2000)).unwrap();
        for (x, y) in da.iter().zip(&db) {
            assert!(digest(x) == digest(y), "{} differs", x.display());
        }
        let names: Vec<String> = digest(&da[0]).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"PCD_case.csv".to_string()));
        assert!(names.contains(&"MANIFEST.csv".to_string()));
        let pcd = fs::read(da[0].join("PCD_progress.csv")).unwrap();
        assert!(
            pcd.starts_with(b"\xEF\xBB\xBF"),
            "PCD writes UTF-8 with a BOM"
        );
        let _ = fs::remove_dir_all(a);
        let _ = fs::remove_dir_all(b);
    }
}
