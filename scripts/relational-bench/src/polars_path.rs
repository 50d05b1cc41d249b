//! Path B: the parsed rows as one national polars DataFrame, then a lazy query
//! that keeps, per case, the three greatest (posted, seq) existing entries.

use std::sync::OnceLock;
use std::time::Instant;

use polars::prelude::*;

use crate::{
    fingerprint, fmt_runs, heap_peak_mib, heap_reset, median, proc_status, reset_peak, CourtRows,
    Kept,
};

pub const QUERIES: &[&str] = &[
    "sort_unique",
    "sort_groupby",
    "window",
    "packed_sort",
    "sort4_shift",
    "packed_shift",
];
/// Stages of the above, timed alone (`--query x_...`; not in `all`).
pub const DIAGNOSTICS: &[&str] = &[
    "x_sort4",
    "x_sort_packed",
    "x_sort4_unique",
    "x_sort4_unique_sort3",
    "x_window_max",
];

static REFERENCE: OnceLock<Vec<Kept>> = OnceLock::new();

/// Path A's result (sorted), for an entry-by-entry comparison.
pub fn set_reference(kept: Vec<Kept>) {
    let _ = REFERENCE.set(kept);
}

/// `1970-01-01` as days from the common era (chrono's `num_days_from_ce`).
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;
/// `2000-01-01T00:00:00` in Unix seconds: `modified` is packed relative to it.
const BASE_2000: i64 = 946_684_800;

/// One column, the rows in national file order (courts by code, each court's
/// chunks in file order).
fn column<T: Send>(
    courts: &[CourtRows],
    n: usize,
    f: impl Fn(u32, &(u32, etl::kinds::progress::Version)) -> T,
) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    for c in courts {
        for (i, rows) in c.chunks.iter().enumerate() {
            let chunk = c.chunk_base + i as u32;
            v.extend(rows.iter().map(|r| f(chunk, r)));
        }
    }
    v
}

/// The DataFrame: case, seq, posted (days since 1970, i32), modified (Unix
/// seconds, i64), withdrawn, pos (national file-order position), and the
/// text reference (chunk, start, len). Columns are built in parallel on the
/// rayon pool and handed to polars without a copy (except the bitmap).
pub fn build(courts: &[CourtRows]) -> DataFrame {
    let n: usize = courts.iter().map(CourtRows::rows).sum();
    assert!(n < u32::MAX as usize);
    let (mut case, mut seq, mut posted, mut modified) = (vec![], vec![], vec![], vec![]);
    let (mut withdrawn, mut pos, mut chunk, mut start, mut len) =
        (vec![], vec![], vec![], vec![], vec![]);
    rayon::scope(|s| {
        s.spawn(|_| case = column(courts, n, |_, r| r.0));
        s.spawn(|_| seq = column(courts, n, |_, r| r.1.seq));
        s.spawn(|_| {
            posted = column(courts, n, |_, r| {
                use chrono::Datelike;
                r.1.posted.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
            })
        });
        s.spawn(|_| modified = column(courts, n, |_, r| r.1.modified.and_utc().timestamp()));
        s.spawn(|_| withdrawn = column(courts, n, |_, r| r.1.withdrawn));
        s.spawn(|_| pos = (0..n as u32).collect());
        s.spawn(|_| chunk = column(courts, n, |c, _| c));
        s.spawn(|_| start = column(courts, n, |_, r| r.1.text.start));
        s.spawn(|_| len = column(courts, n, |_, r| r.1.text.len));
    });
    let u32c = |name: &str, v: Vec<u32>| UInt32Chunked::from_vec(name.into(), v).into_column();
    DataFrame::new(
        n,
        vec![
            u32c("case", case),
            u32c("seq", seq),
            Int32Chunked::from_vec("posted".into(), posted).into_column(),
            Int64Chunked::from_vec("modified".into(), modified).into_column(),
            BooleanChunked::from_slice("withdrawn".into(), &withdrawn).into_column(),
            u32c("pos", pos),
            u32c("chunk", chunk),
            u32c("start", start),
            u32c("len", len),
        ],
    )
    .expect("DataFrame")
}

/// (case, seq) packed in a u64.
fn ks() -> Expr {
    col("case").cast(DataType::UInt64) * lit(1u64 << 32) + col("seq").cast(DataType::UInt64)
}

/// (modified, pos) packed in an i64 (modified relative to 2000, in seconds:
/// fits until 2068).
fn k1() -> Expr {
    (col("modified") - lit(BASE_2000)) * lit(1i64 << 32) + col("pos").cast(DataType::Int64)
}

/// (posted, seq) packed in an i64.
fn k2() -> Expr {
    col("posted").cast(DataType::Int64) * lit(1i64 << 32) + col("seq").cast(DataType::Int64)
}

fn out_cols() -> [Expr; 6] {
    [
        col("case"),
        col("rank"),
        col("seq"),
        col("chunk"),
        col("start"),
        col("len"),
    ]
}

/// Rank within a case of a frame sorted by (case, posted desc, seq desc):
/// 0 = newest; only ranks 0..3 are kept.
fn rank_and_keep_three(lf: LazyFrame) -> LazyFrame {
    lf.with_column(
        (col("case").cum_count(false).over([col("case")]).expect("over") - lit(1u32))
            .cast(DataType::UInt32)
            .alias("rank"),
    )
    .filter(col("rank").lt(lit(3u32)))
}

/// Rank and keep three on a frame sorted by (case, newest first), with
/// shifts instead of a window: no hashing.
fn first_three_of_sorted(lf: LazyFrame) -> LazyFrame {
    let same = |n: i64| {
        col("case")
            .eq_missing(col("case").shift(lit(n)))
            .cast(DataType::UInt32)
    };
    lf.with_columns([
        (same(1) + same(2)).alias("rank"),
        same(3).alias("fourth_or_later"),
    ])
    .filter(col("fourth_or_later").eq(lit(0u32)))
}

fn newest_first() -> SortMultipleOptions {
    SortMultipleOptions::default().with_order_descending_multi([false, true, true])
}

/// The lazy query for one formulation.
pub fn query(df: DataFrame, name: &str) -> LazyFrame {
    let lf = df.lazy();
    match name {
        // Sort by (case, seq, modified, pos): the standing version is the last
        // row of each (case, seq). unique(keep=last) keeps it; drop withdrawn;
        // sort newest first; rank within case; keep three.
        "sort_unique" => {
            let standing = lf
                .sort(["case", "seq", "modified", "pos"], Default::default())
                .unique_stable_generic(Some(vec![col("case"), col("seq")]), UniqueKeepStrategy::Last)
                .filter(col("withdrawn").not())
                .sort_by_exprs([col("case"), col("posted"), col("seq")], newest_first());
            rank_and_keep_three(standing).select(out_cols())
        }
        // The same sort, then group_by(case, seq).last() of every column.
        "sort_groupby" => {
            let standing = lf
                .sort(["case", "seq", "modified", "pos"], Default::default())
                .group_by_stable([col("case"), col("seq")])
                .agg([
                    col("posted").last(),
                    col("withdrawn").last(),
                    col("chunk").last(),
                    col("start").last(),
                    col("len").last(),
                ])
                .filter(col("withdrawn").not())
                .sort_by_exprs([col("case"), col("posted"), col("seq")], newest_first());
            rank_and_keep_three(standing).select(out_cols())
        }
        // No global sort: window functions over packed keys.
        // k1 = (modified, pos) packed in an i64: the standing version is the
        // row whose k1 is the max over (case, seq). k2 = (posted, seq) packed:
        // rank descending over case, keep ranks 1..=3.
        "window" => {
            let (k1, k2) = (k1(), k2());
            lf.filter(
                k1.clone()
                    .eq(k1.max().over([col("case"), col("seq")]).expect("over")),
            )
            .filter(col("withdrawn").not())
            .with_column(
                (k2.rank(
                    RankOptions {
                        method: RankMethod::Ordinal,
                        descending: true,
                    },
                    None,
                )
                .over([col("case")])
                .expect("over")
                .cast(DataType::UInt32)
                    - lit(1u32))
                .alias("rank"),
            )
            .filter(col("rank").lt(lit(3u32)))
            .select(out_cols())
        }
        // Packed keys, two-column sort: (case, seq) in a u64, (modified, pos)
        // in an i64; then as sort_unique.
        "packed_sort" => {
            let standing = lf
                .with_columns([ks().alias("ks"), k1().alias("k1")])
                .sort(["ks", "k1"], Default::default())
                .unique_stable_generic(Some(vec![col("ks")]), UniqueKeepStrategy::Last)
                .filter(col("withdrawn").not())
                .sort_by_exprs(
                    [col("case"), k2()],
                    SortMultipleOptions::default().with_order_descending_multi([false, true]),
                );
            rank_and_keep_three(standing).select(out_cols())
        }
        // No hashing at all: after the sort, the standing version is the row
        // whose (case, seq) differs from the next row's; after the second
        // sort, a case's first three rows are those whose case differs from
        // the case three rows up, and the rank counts equal cases one and
        // two rows up.
        "sort4_shift" => {
            let next_differs = col("case")
                .neq_missing(col("case").shift(lit(-1)))
                .or(col("seq").neq_missing(col("seq").shift(lit(-1))));
            let standing = lf
                .sort(["case", "seq", "modified", "pos"], Default::default())
                .filter(next_differs.and(col("withdrawn").not()))
                .sort_by_exprs([col("case"), col("posted"), col("seq")], newest_first());
            first_three_of_sorted(standing).select(out_cols())
        }
        // The same with packed keys: two sort columns instead of four (and
        // two instead of three), one shift compare instead of two.
        "packed_shift" => {
            let standing = lf
                .with_columns([ks().alias("ks"), k1().alias("k1")])
                .sort(["ks", "k1"], Default::default())
                .filter(
                    col("ks")
                        .neq_missing(col("ks").shift(lit(-1)))
                        .and(col("withdrawn").not()),
                )
                .sort_by_exprs(
                    [col("case"), k2()],
                    SortMultipleOptions::default().with_order_descending_multi([false, true]),
                );
            first_three_of_sorted(standing).select(out_cols())
        }
        // Diagnostics (not in "all"): the stages of sort_unique alone.
        "x_sort4" => lf.sort(["case", "seq", "modified", "pos"], Default::default()),
        "x_sort_packed" => lf
            .with_columns([ks().alias("ks"), k1().alias("k1")])
            .sort(["ks", "k1"], Default::default()),
        "x_sort4_unique" => lf
            .sort(["case", "seq", "modified", "pos"], Default::default())
            .unique_stable_generic(Some(vec![col("case"), col("seq")]), UniqueKeepStrategy::Last),
        "x_sort4_unique_sort3" => lf
            .sort(["case", "seq", "modified", "pos"], Default::default())
            .unique_stable_generic(Some(vec![col("case"), col("seq")]), UniqueKeepStrategy::Last)
            .filter(col("withdrawn").not())
            .sort_by_exprs([col("case"), col("posted"), col("seq")], newest_first()),
        "x_window_max" => lf.filter(k1().eq(k1().max().over([col("case"), col("seq")]).expect("over"))),
        other => panic!("unknown query {other}; known: {}", QUERIES.join(", ")),
    }
}

fn extract(df: &DataFrame) -> PolarsResult<Vec<Kept>> {
    let c = |name: &str| -> PolarsResult<Vec<u32>> {
        Ok(df.column(name)?.u32()?.into_no_null_iter().collect())
    };
    let (case, rank, seq, chunk, start, len) =
        (c("case")?, c("rank")?, c("seq")?, c("chunk")?, c("start")?, c("len")?);
    Ok((0..df.height())
        .map(|i| Kept {
            case: case[i],
            rank: rank[i],
            seq: seq[i],
            chunk: chunk[i],
            start: start[i],
            len: len[i],
        })
        .collect())
}

/// Runs the named formulation(s) `runs` times each; prints the figures.
/// `reference` is path A's (fingerprint, kept) when it ran in this process.
/// Returns false if any result differs from path A's.
pub fn run(
    courts: &[CourtRows],
    which: &str,
    runs: usize,
    base_kib: u64,
    reference: Option<(u64, usize)>,
    heap: bool,
) -> bool {
    // Validate a wrong name before spending time.
    let names: Vec<&str> = if which == "all" {
        QUERIES.to_vec()
    } else {
        which.split(',').collect()
    };
    for name in &names {
        assert!(
            QUERIES.contains(name) || DIAGNOSTICS.contains(name),
            "unknown query {name}; known: {} (diagnostics: {})",
            QUERIES.join(", "),
            DIAGNOSTICS.join(", ")
        );
    }
    let mut all_ok = true;
    let mut best: Option<(f64, String)> = None;
    for name in names {
        let reset = reset_peak();
        heap_reset(heap);
        let (mut build_s, mut query_s, mut total_s, mut extract_s) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut others = Vec::new();
        let mut kept = Vec::new();
        for i in 0..runs {
            let (m0, s0) = crate::cpu_seconds();
            let t = Instant::now();
            let df = build(courts);
            let b = t.elapsed().as_secs_f64();
            if i == 0 {
                println!("polars_{name}_frame_rows: {}", df.height());
                println!(
                    "polars_{name}_frame_bytes_estimated: {}",
                    df.estimated_size()
                );
            }
            if i == 0 {
                let plan = query(df.clone(), name).describe_optimized_plan();
                eprintln!("optimized plan ({name}):\n{}\n", plan.unwrap_or_default());
            }
            let t = Instant::now();
            let out = query(df, name).collect().expect("query");
            let q = t.elapsed().as_secs_f64();
            let (m1, s1) = crate::cpu_seconds();
            others.push(((m1 - m0) - (s1 - s0)).max(0.0));
            if name.starts_with("x_") {
                if i == 0 {
                    println!("polars_{name}_rows_out: {}", out.height());
                }
                build_s.push(b);
                query_s.push(q);
                total_s.push(b + q);
                continue;
            }
            let t = Instant::now();
            kept = extract(&out).expect("extract");
            extract_s.push(t.elapsed().as_secs_f64());
            build_s.push(b);
            query_s.push(q);
            total_s.push(b + q);
        }
        let peak = proc_status("VmHWM:").unwrap_or(0);
        if let Some(mib) = heap_peak_mib() {
            println!("polars_{name}_peak_heap_mib: {mib:.1}");
        }
        if name.starts_with("x_") {
            println!("polars_{name}_query_runs_s: {}", fmt_runs(&query_s));
            println!("polars_{name}_other_processes_cpu_runs_s: {}", fmt_runs(&others));
            continue;
        }
        let fp = fingerprint(&mut kept);
        println!("polars_{name}_other_processes_cpu_runs_s: {}", fmt_runs(&others));
        println!("polars_{name}_construct_runs_s: {}", fmt_runs(&build_s));
        println!("polars_{name}_query_runs_s: {}", fmt_runs(&query_s));
        println!("polars_{name}_total_runs_s: {}", fmt_runs(&total_s));
        println!("polars_{name}_extract_runs_s: {}", fmt_runs(&extract_s));
        println!("polars_{name}_construct_median_s: {:.3}", median(&build_s));
        println!("polars_{name}_query_median_s: {:.3}", median(&query_s));
        println!("polars_{name}_total_median_s: {:.3}", median(&total_s));
        println!("polars_{name}_kept: {}", kept.len());
        println!("polars_{name}_fingerprint: {fp:016x}");
        if reset {
            println!("polars_{name}_peak_rss_kib: {peak}");
            println!("polars_{name}_peak_over_parsed_kib: {}", peak.saturating_sub(base_kib));
        }
        if let Some(reference) = REFERENCE.get() {
            let same = *reference == kept;
            if !same {
                let diff = reference.iter().zip(&kept).position(|(a, b)| a != b);
                println!(
                    "polars_{name}_first_difference: {:?} rust={:?} polars={:?}",
                    diff,
                    diff.and_then(|i| reference.get(i)),
                    diff.and_then(|i| kept.get(i))
                );
            }
            println!("polars_{name}_identical_to_rust: {}", if same { "yes" } else { "no" });
            all_ok &= same;
        } else if let Some((fp_a, n_a)) = reference {
            let same = fp_a == fp && n_a == kept.len();
            println!("polars_{name}_identical_to_rust: {}", if same { "yes" } else { "no" });
            all_ok &= same;
        }
        let m = median(&total_s);
        if best.as_ref().is_none_or(|(b, _)| m < *b) {
            best = Some((m, name.to_string()));
        }
    }
    if let Some((m, name)) = best {
        println!("polars_fastest: {name} ({m:.3} s total median)");
    }
    all_ok
}
