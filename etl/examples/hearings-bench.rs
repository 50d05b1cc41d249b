//! How long reading hearings takes, alone: `schemas::hearing::read` over
//! every text of a court's progress file, `etl::hearings::extract` over
//! every case's entries, and the import's way of doing it (one
//! `Extractor` for every case, each case's list packed), a few rounds each,
//! best round reported. The import
//! does the same work inside a court's stage, where it is one share of many
//! (docs/BENCHMARKS.md, "Hearings"); this measures it without the rest of
//! the import's noise. It also prints a digest of what was read, so that two
//! builds can be checked to read the same hearings.
//!
//! ```sh
//! cargo run --release -p etl --example hearings-bench -- \
//!     target/bench-data/court-CHD-s1-c1000000/20261123/CHD_progress.csv [rounds]
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use etl::hearings::{extract, Entry, Extractor};

type Key = (String, String, String, String, String);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: hearings-bench PROGRESS.csv [rounds]"))?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);

    let mut reader = csv::ReaderBuilder::new().from_path(&path)?;
    // The texts one after another in one string, as the import keeps them
    // (in its chunks' arenas), not each in an allocation of its own.
    let mut arena = String::new();
    let mut cases: BTreeMap<Key, Vec<(NaiveDate, u32, Range<usize>)>> = BTreeMap::new();
    let field = |r: &csv::ByteRecord, i: usize| {
        encoding_rs::BIG5
            .decode_without_bom_handling(r.get(i).unwrap_or_default())
            .0
            .into_owned()
    };
    for record in reader.byte_records() {
        let r = record?;
        if field(&r, 9) == "Y" {
            continue;
        }
        let key = (
            field(&r, 0),
            field(&r, 1),
            field(&r, 2),
            field(&r, 3),
            field(&r, 4),
        );
        let seq: u32 = field(&r, 5).parse()?;
        let d = field(&r, 6);
        let posted = NaiveDate::from_ymd_opt(
            d[..3].parse::<i32>()? + 1911,
            d[3..5].parse()?,
            d[5..7].parse()?,
        )
        .ok_or_else(|| anyhow::anyhow!("bad date {d}"))?;
        let start = arena.len();
        arena.push_str(&field(&r, 7));
        cases
            .entry(key)
            .or_default()
            .push((posted, seq, start..arena.len()));
    }
    for entries in cases.values_mut() {
        entries.sort_unstable_by_key(|e| (e.0, e.1));
    }
    let texts: Vec<&str> = cases
        .values()
        .flatten()
        .map(|e| &arena[e.2.clone()])
        .collect();

    let (best_read, notices, read_digest) = measure(rounds, &texts, |t| {
        let notice = schemas::hearing::read(t);
        (usize::from(notice.is_some()), notice)
    });
    let cases: Vec<&Vec<(NaiveDate, u32, Range<usize>)>> = cases.values().collect();
    let (best_extract, hearings, extract_digest) = measure(rounds, &cases, |entries| {
        let list = extract(entries.iter().map(|e| Entry {
            seq: e.1,
            posted: e.0,
            text: &arena[e.2.clone()],
        }));
        (list.len(), list)
    });
    // The import's way: one extractor for case after case, lists packed.
    let mut extractor = Extractor::default();
    let (best_pack, _, pack_digest) = measure(rounds, &cases, |entries| {
        let list = extractor
            .pack(
                entries.iter().map(|e| Entry {
                    seq: e.1,
                    posted: e.0,
                    text: &arena[e.2.clone()],
                }),
                None,
            )
            .list;
        (list.len(), list)
    });
    // The same reading, split: texts that say nothing about hearings (most)
    // and those that do.
    let (silent, telling): (Vec<&str>, Vec<&str>) = texts
        .iter()
        .partition(|t| schemas::hearing::read(t).is_none());
    let ns = |texts: &[&str]| {
        let (best, _, _) = measure(rounds, texts, |t| (0, schemas::hearing::read(t)));
        best.as_nanos() as f64 / texts.len().max(1) as f64
    };
    let (silent_ns, telling_ns) = (ns(&silent), ns(&telling));
    println!(
        "{} texts, {} cases; best of {rounds} rounds",
        texts.len(),
        cases.len()
    );
    let line = |name: &str, best: Duration, per: &str, n: usize, what: String, digest: u64| {
        println!(
            "{name:<8} {:>8.1} ms, {:>6.1} ns a {per}; {what}, digest {digest:016x}",
            best.as_secs_f64() * 1e3,
            best.as_nanos() as f64 / n.max(1) as f64,
        )
    };
    line(
        "read:",
        best_read,
        "text",
        texts.len(),
        format!("{notices} notices"),
        read_digest,
    );
    println!(
        "read, texts about no hearing: {silent_ns:.1} ns each ({}); about hearings: {telling_ns:.1} ns each ({})",
        silent.len(),
        telling.len()
    );
    line(
        "extract:",
        best_extract,
        "case",
        cases.len(),
        format!("{hearings} hearings"),
        extract_digest,
    );
    line(
        "pack:",
        best_pack,
        "case",
        cases.len(),
        "reused buffers, packed as stored".to_string(),
        pack_digest,
    );
    Ok(())
}

/// `work` over every item: once untimed, summing the counts it returns and
/// digesting what it gives (its `Debug` form), then `rounds` times timed.
/// The best round's time, the count and the digest.
fn measure<I: Copy, T: Debug>(
    rounds: usize,
    items: &[I],
    mut work: impl FnMut(I) -> (usize, T),
) -> (Duration, usize, u64) {
    let mut digest = DefaultHasher::new();
    let mut count = 0;
    for &item in items {
        let (n, given) = work(item);
        count += n;
        format!("{given:?}").hash(&mut digest);
    }
    let best = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            for &item in items {
                std::hint::black_box(work(item));
            }
            started.elapsed()
        })
        .min()
        .unwrap_or_default();
    (best, count, digest.finish())
}
