//! relational-bench: the relational stage of the import (collapse versions,
//! keep each case's latest three entries) on a whole national night, done
//! two ways on the same parsed rows:
//!
//! - path A (`--path rust`): plain Rust as the import does it — runs of one
//!   case in file order, `etl::rules::collapse_versions`, then
//!   `etl::rules::latest_three`, courts in parallel on rayon;
//! - path B (`--path polars`, needs `--features polars`): the rows copied into
//!   a polars DataFrame, then a lazy query doing the same job.
//!
//! Parsing uses only `etl::decode` and `etl::kinds` (the same parser the import
//! uses) and is timed but not compared. `--path both` checks that the two
//! paths keep exactly the same entries.

use std::path::{Path, PathBuf};
use std::time::Instant;

use etl::decode::{load_eudc, Decoder};
use etl::kinds::progress::Version;
use etl::kinds::{CaseKey, DataFile, FieldError, FileKind, ParScan};
use etl::rules::{collapse_versions, latest_three};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};

#[cfg(feature = "polars")]
mod polars_path;

/// The system allocator, counting live heap bytes while `--heap` is on (one
/// relaxed load per call otherwise), so a path's peak heap can be told apart
/// from memory the parse had freed but the process still holds.
mod heap {
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

    #[cfg(not(feature = "mimalloc"))]
    use std::alloc::System;
    #[cfg(feature = "mimalloc")]
    #[allow(non_upper_case_globals)]
    const System: mimalloc::MiMalloc = mimalloc::MiMalloc;

    /// Which allocator the process runs on.
    pub const NAME: &str = if cfg!(feature = "mimalloc") { "mimalloc" } else { "system (glibc)" };

    pub struct Counting;
    pub static ON: AtomicBool = AtomicBool::new(false);
    static LIVE: AtomicIsize = AtomicIsize::new(0);
    static PEAK: AtomicIsize = AtomicIsize::new(0);

    fn add(n: isize) {
        if ON.load(Relaxed) {
            let now = LIVE.fetch_add(n, Relaxed) + n;
            PEAK.fetch_max(now, Relaxed);
        }
    }

    /// Starts counting from zero.
    pub fn reset() {
        LIVE.store(0, Relaxed);
        PEAK.store(0, Relaxed);
    }

    /// Peak of (allocated - freed) bytes since `reset`.
    pub fn peak() -> isize {
        PEAK.load(Relaxed)
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = System.alloc(l);
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            let p = System.alloc_zeroed(l);
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            System.dealloc(p, l);
            add(-(l.size() as isize));
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            let q = System.realloc(p, l, new);
            if !q.is_null() {
                add(new as isize - l.size() as isize);
            }
            q
        }
    }
}

#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

/// Starts counting heap bytes from zero when `--heap` was given.
pub fn heap_reset(on: bool) {
    heap::reset();
    heap::ON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The peak heap since `heap_reset`, in MiB, when counting.
pub fn heap_peak_mib() -> Option<f64> {
    heap::ON
        .load(std::sync::atomic::Ordering::Relaxed)
        .then(|| heap::peak() as f64 / (1 << 20) as f64)
}

/// One court's parsed progress rows, as `par_map` gives them.
pub struct CourtRows {
    pub code: String,
    /// Global id of the court's first case; its cases are
    /// `case_base..case_base + cases`, in case-file order.
    pub case_base: u32,
    pub cases: u32,
    /// Global id of the court's first chunk.
    pub chunk_base: u32,
    /// Per chunk, in file order: (global case id, version).
    pub chunks: Vec<Vec<(u32, Version)>>,
    /// Per chunk, the text arena the versions' `TextRef`s point into.
    pub arenas: Vec<String>,
}

impl CourtRows {
    pub fn rows(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }
}

/// One kept entry: a case's `rank`-th latest existing entry (0 = newest),
/// and where its standing version's text lies (global chunk, arena range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kept {
    pub case: u32,
    pub rank: u32,
    pub seq: u32,
    pub chunk: u32,
    pub start: u32,
    pub len: u32,
}

struct Args {
    data: PathBuf,
    path: String,
    runs: usize,
    query: String,
    threads: usize,
    heap: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: relational-bench [--data DIR] [--path rust|polars|both] [--runs N] \
         [--query NAME|all] [--threads N] [--heap]\n\
         queries (polars feature): {}",
        QUERIES.join(", ")
    );
    std::process::exit(2)
}

#[cfg(feature = "polars")]
const QUERIES: &[&str] = polars_path::QUERIES;
#[cfg(not(feature = "polars"))]
const QUERIES: &[&str] = &[];

fn parse_args() -> Args {
    let mut a = Args {
        data: PathBuf::from("/work/main/target/bench-data/national-s1-c1000000/20261123"),
        path: "both".into(),
        runs: 3,
        query: "all".into(),
        threads: 2,
        heap: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--data" => a.data = val().into(),
            "--path" => a.path = val(),
            "--runs" => a.runs = val().parse().unwrap_or_else(|_| usage()),
            "--query" => a.query = val(),
            "--threads" => a.threads = val().parse().unwrap_or_else(|_| usage()),
            "--heap" => a.heap = true,
            _ => usage(),
        }
    }
    if !["rust", "polars", "both"].contains(&a.path.as_str()) || a.runs == 0 {
        usage();
    }
    a
}

/// `VmRSS` / `VmHWM` of this process, in KiB.
fn proc_status(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux ≥ 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with(prefix))
                })
                .count()
        })
        .unwrap_or(0)
}

/// CPU seconds (machine busy across all cores, this process) so far.
pub fn cpu_seconds() -> (f64, f64) {
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<f64> = s
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            Some((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100.0)
        })
        .unwrap_or(0.0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // fields 14 and 15 of stat (utime, stime) are 11 and 12 after comm
            Some((f[11].parse::<f64>().ok()? + f[12].parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0);
    (machine, own)
}

/// Runs `f`; also returns the CPU seconds other processes used meanwhile
/// (a sign that the timing was disturbed: the machine is shared).
pub fn with_others<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (m0, s0) = cpu_seconds();
    let r = f();
    let (m1, s1) = cpu_seconds();
    (r, ((m1 - m0) - (s1 - s0)).max(0.0))
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn fmt_runs(xs: &[f64]) -> String {
    xs.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ")
}

/// Reads every court's case and progress file with the etl parser.
fn parse_all(dir: &Path) -> (Vec<CourtRows>, u64, u64) {
    let (eudc, eudc_errors) = load_eudc(&dir.join("EUDC.csv")).expect("read EUDC.csv");
    assert!(eudc_errors.is_empty(), "EUDC.csv: {} errors", eudc_errors.len());
    let decoder = Decoder::new(eudc);

    let mut codes: Vec<String> = std::fs::read_dir(dir)
        .expect("read data dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            match FileKind::from_file_name(&name)? {
                (court, FileKind::Case) => Some(court),
                _ => None,
            }
        })
        .collect();
    codes.sort();
    assert!(!codes.is_empty(), "no <COURT>_case.csv in {}", dir.display());

    // Case files first: a key -> id index per court, ids in file order.
    let indexes: Vec<(FxHashMap<CaseKey, u32>, u64)> = codes
        .par_iter()
        .map(|code| {
            let bytes = std::fs::read(dir.join(FileKind::Case.file_name(code))).expect("read case");
            let file = DataFile::open(&bytes, code, FileKind::Case, &decoder).expect("case header");
            let mut index = FxHashMap::default();
            let (stats, _) = file.for_each(&decoder, None, 0, |r| {
                etl::kinds::case::parse(r)?;
                let next = index.len() as u32;
                index.entry(r.key.clone()).or_insert(next);
                Ok(())
            });
            (index, stats.rejected)
        })
        .collect();
    let mut case_base = Vec::with_capacity(codes.len());
    let mut next = 0u32;
    for (index, _) in &indexes {
        case_base.push(next);
        next += index.len() as u32;
    }
    let case_rejects: u64 = indexes.iter().map(|(_, r)| r).sum();

    let parsed: Vec<(CourtRows, u64)> = codes
        .par_iter()
        .enumerate()
        .map(|(i, code)| {
            let name = FileKind::Progress.file_name(code);
            let base = case_base[i];
            let index = &indexes[i].0;
            let resolve = |key: &CaseKey| {
                index
                    .get(key)
                    .map(|&id| base + id)
                    .ok_or_else(|| FieldError::at(4, format!("case {key} is not in the case file")))
            };
            let (chunks, arenas, rejected) = match std::fs::read(dir.join(&name)) {
                Ok(bytes) => {
                    let file = DataFile::open(&bytes, code, FileKind::Progress, &decoder)
                        .expect("progress header");
                    let ParScan { chunks, stats, .. } =
                        file.par_map(&decoder, Some(&resolve), 0, |r, arena: &mut String| {
                            etl::kinds::progress::parse(r, arena).map(|v| (r.case, v))
                        });
                    let (rows, arenas) = chunks.into_iter().unzip();
                    (rows, arenas, stats.rejected)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), Vec::new(), 0),
                Err(e) => panic!("{name}: {e}"),
            };
            let court = CourtRows {
                code: code.clone(),
                case_base: base,
                cases: index.len() as u32,
                chunk_base: 0,
                chunks,
                arenas,
            };
            (court, rejected)
        })
        .collect();
    let progress_rejects = parsed.iter().map(|(_, r)| r).sum();
    let mut courts: Vec<CourtRows> = parsed.into_iter().map(|(c, _)| c).collect();
    let mut chunk_base = 0u32;
    for c in &mut courts {
        c.chunk_base = chunk_base;
        chunk_base += c.chunks.len() as u32;
    }
    (courts, case_rejects, progress_rejects)
}

/// Path A for one court: what `etl::court` does, minus scope and output.
fn path_a_court(c: &CourtRows) -> (Vec<Kept>, u64) {
    #[derive(Clone, Copy)]
    struct Run {
        chunk: u32,
        start: u32,
        end: u32,
    }
    let n = c.cases as usize;
    // Rows of one case mostly come as one run; later runs go to `more_runs`.
    let mut runs: Vec<Run> = Vec::new();
    let mut first_run = vec![u32::MAX; n];
    let mut more_runs: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for (chunk, rows) in c.chunks.iter().enumerate() {
        let mut start = 0;
        while start < rows.len() {
            let case = rows[start].0;
            let end = start + rows[start..].iter().take_while(|(k, _)| *k == case).count();
            let id = runs.len() as u32;
            runs.push(Run {
                chunk: chunk as u32,
                start: start as u32,
                end: end as u32,
            });
            let local = (case - c.case_base) as usize;
            if first_run[local] == u32::MAX {
                first_run[local] = id;
            } else {
                more_runs.entry(local as u32).or_default().push(id);
            }
            start = end;
        }
    }
    let mut collapsed = 0;
    let mut out = Vec::with_capacity(n * 3);
    let mut standing: Vec<(u32, Version)> = Vec::new();
    for local in 0..n {
        let first = first_run[local];
        if first == u32::MAX {
            continue;
        }
        standing.clear();
        let more = more_runs.get(&(local as u32)).map_or(&[][..], Vec::as_slice);
        for &id in std::iter::once(&first).chain(more) {
            let run = runs[id as usize];
            let rows = &c.chunks[run.chunk as usize][run.start as usize..run.end as usize];
            standing.extend(rows.iter().map(|&(_, v)| (run.chunk, v)));
        }
        collapsed += collapse_versions(&mut standing, |(_, v)| v);
        latest_three(&mut standing, |(_, v)| v);
        let case = c.case_base + local as u32;
        for (rank, &(chunk, v)) in standing.iter().enumerate() {
            out.push(Kept {
                case,
                rank: rank as u32,
                seq: v.seq,
                chunk: c.chunk_base + chunk,
                start: v.text.start,
                len: v.text.len,
            });
        }
    }
    (out, collapsed)
}

fn path_a(courts: &[CourtRows]) -> (Vec<Vec<Kept>>, u64) {
    let per: Vec<(Vec<Kept>, u64)> = courts.par_iter().map(path_a_court).collect();
    let collapsed = per.iter().map(|p| p.1).sum();
    (per.into_iter().map(|p| p.0).collect(), collapsed)
}

/// Sorted, with an order-independent-input fingerprint to compare runs
/// across processes.
pub fn fingerprint(kept: &mut [Kept]) -> u64 {
    use std::hash::{Hash, Hasher};
    kept.sort_unstable();
    let mut h = FxHasher::default();
    kept.hash(&mut h);
    h.finish()
}

fn main() {
    let args = parse_args();
    // Path B's thread pool reads this when polars first starts it.
    if std::env::var_os("POLARS_MAX_THREADS").is_none() {
        std::env::set_var("POLARS_MAX_THREADS", args.threads.to_string());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .thread_name(|i| format!("rayon-{i}"))
        .build_global()
        .expect("rayon pool");
    #[cfg(not(feature = "polars"))]
    if args.path != "rust" {
        eprintln!("--path {} needs a build with --features polars", args.path);
        std::process::exit(2);
    }

    println!("data: {}", args.data.display());
    println!("allocator: {}", heap::NAME);
    println!("rayon_threads: {}", rayon::current_num_threads());
    println!(
        "POLARS_MAX_THREADS: {}",
        std::env::var("POLARS_MAX_THREADS").unwrap_or_default()
    );

    let t = Instant::now();
    let (courts, case_rejects, progress_rejects) = parse_all(&args.data);
    let parse_s = t.elapsed().as_secs_f64();
    let rows: usize = courts.iter().map(CourtRows::rows).sum();
    let cases: u64 = courts.iter().map(|c| u64::from(c.cases)).sum();
    let chunks: usize = courts.iter().map(|c| c.chunks.len()).sum();
    let arena_bytes: usize = courts
        .iter()
        .flat_map(|c| &c.arenas)
        .map(String::len)
        .sum();
    println!("courts: {}", courts.len());
    println!("cases: {cases}");
    println!("progress_rows: {rows}");
    println!("chunks: {chunks}");
    println!("text_arena_bytes: {arena_bytes}");
    println!("rejected_case_rows: {case_rejects}");
    println!("rejected_progress_rows: {progress_rejects}");
    println!("parse_s: {parse_s:.3}");
    let base_kib = proc_status("VmRSS:").unwrap_or(0);
    println!("rss_after_parse_kib: {base_kib}");
    println!("peak_rss_during_parse_kib: {}", proc_status("VmHWM:").unwrap_or(0));

    let mut reference: Option<(u64, usize)> = None;

    if args.path == "rust" || args.path == "both" {
        let reset = reset_peak();
        heap_reset(args.heap);
        let (mut times, mut others) = (Vec::new(), Vec::new());
        let mut result = None;
        for _ in 0..args.runs {
            drop(result.take());
            let ((r, secs), other) = with_others(|| {
                let t = Instant::now();
                let r = path_a(&courts);
                (r, t.elapsed().as_secs_f64())
            });
            times.push(secs);
            others.push(other);
            result = Some(r);
        }
        let peak = proc_status("VmHWM:").unwrap_or(0);
        let (per_court, collapsed) = result.unwrap();
        let mut kept: Vec<Kept> = per_court.into_iter().flatten().collect();
        let fp = fingerprint(&mut kept);
        println!("rust_runs_s: {}", fmt_runs(&times));
        println!("rust_other_processes_cpu_runs_s: {}", fmt_runs(&others));
        println!("rust_median_s: {:.3}", median(&times));
        println!("rust_versions_collapsed: {collapsed}");
        println!("rust_kept: {}", kept.len());
        println!("rust_fingerprint: {fp:016x}");
        if reset {
            println!("rust_peak_rss_kib: {peak}");
            println!("rust_peak_over_parsed_kib: {}", peak.saturating_sub(base_kib));
        }
        if let Some(mib) = heap_peak_mib() {
            println!("rust_peak_heap_mib: {mib:.1}");
        }
        reference = Some((fp, kept.len()));
        #[cfg(feature = "polars")]
        if args.path == "both" {
            polars_path::set_reference(kept);
        }
    }

    #[cfg(feature = "polars")]
    if args.path == "polars" || args.path == "both" {
        let ok = polars_path::run(&courts, &args.query, args.runs, base_kib, reference, args.heap);
        println!(
            "polars_threads_seen: {}",
            threads_named("polars")
        );
        if !ok {
            println!("identical: no");
            std::process::exit(1);
        }
        if args.path == "both" {
            println!("identical: yes");
        }
    }
    let _ = reference;
    let _ = threads_named;
}
