//! How long the passes over every hearing list of a snapshot take, alone:
//! `hearing_list::count` (a night's `verify`), `tally` (a night's copy of
//! the live lists), `on_days` (a day's reminders, `send`) and `decode`, a
//! few rounds each over the lists read into memory first, best round
//! reported, with what each pass found (the same for two builds that read
//! lists the same way).
//!
//! ```sh
//! cargo run --release -p etl --example lists-bench -- data/snapshots/<name>.sqlite [rounds]
//! ```

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use schemas::hearing_list::{self, Days};
use schemas::hearing_store::{Cursor, Layout};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: lists-bench SNAPSHOT.sqlite [rounds]"))?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);

    let conn = schemas::open_snapshot_readonly(std::path::Path::new(&path))?;
    let layout = Layout::read(&conn)?;
    let sql = layout
        .range_sql()
        .ok_or_else(|| anyhow::anyhow!("{path}: a snapshot without hearing lists"))?;
    let mut stmt = conn.prepare(&sql)?;
    let mut cursor = Cursor::new(layout, stmt.query([1, i64::MAX])?, 1, i64::MAX);
    let mut lists: Vec<Vec<u8>> = Vec::new();
    while let Some((_, list)) = cursor.next_list()? {
        lists.push(list.to_vec());
    }
    let bytes: usize = lists.iter().map(Vec::len).sum();
    println!("{} lists, {:.1} MB", lists.len(), bytes as f64 / 1e6);

    let days = Days::new(&[
        NaiveDate::from_ymd_opt(2026, 12, 7).expect("a date"),
        NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"),
    ]);
    let pass = |name: &str, f: &dyn Fn(&[u8]) -> usize| {
        let mut best = Duration::MAX;
        let mut found = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            found = lists.iter().map(|l| f(l)).sum::<usize>();
            best = best.min(t.elapsed());
        }
        println!(
            "{name:8} {:7.1} ms  {:5.1} ns a list  (found {found})",
            best.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e9 / lists.len().max(1) as f64
        );
    };
    pass("count", &|l| hearing_list::count(l).expect("a stored list"));
    pass("tally", &|l| {
        let (n, uncertain) = hearing_list::tally(l).expect("a stored list");
        n + uncertain
    });
    pass("on_days", &|l| {
        usize::from(hearing_list::on_days(l, &days).expect("a stored list"))
    });
    pass("decode", &|l| {
        hearing_list::decode(l).expect("a stored list").len()
    });
    Ok(())
}
