//! What writing a snapshot costs the import, apart from reading the batch
//! and working hearings out: the courts of a published snapshot, loaded
//! into memory, written again by `snapshot::write::Builder` as a night
//! writes them (every case's row, grants, prosecutors, hearing list and
//! digest), then indexed and verified; a few rounds, each into a new file.
//!
//!     cargo run --release -p etl --example snapshot-bench -- SNAPSHOT [ROUNDS] [--no-hearings]
//!
//! With `--no-hearings`, every case is written without its hearing list
//! and digest: the difference is what they cost this step.
//!
//! Prints, per round, the wall time and the process's CPU time (user +
//! system, from /proc, in clock ticks of 10 ms) of the load (one thread,
//! as the import's writer), of the indexes and verification together, and
//! the file's size. Two builds compare by running this over the same
//! snapshot, taking turns. A snapshot's reader does not give the digests
//! back (they are the import's), so every queryable case gets one made
//! from its place in the file: the same for any build.

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use etl::snapshot::read::Snapshot;
use etl::snapshot::write::Builder;
use store::layout::SnapshotFile;

/// The process's user + system CPU seconds so far (all threads).
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // After the command's closing parenthesis: state is field 3, utime 14
    // and stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command") + 2..]
        .split(' ')
        .collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("ticks");
    (ticks(11) + ticks(12)) / 100.0
}

/// SplitMix64: a digest for the `n`th case.
fn digest(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hearings = !args.iter().any(|a| a == "--no-hearings");
    let mut args = args.into_iter().filter(|a| a != "--no-hearings");
    let source = PathBuf::from(
        args.next()
            .expect("usage: snapshot-bench SNAPSHOT [ROUNDS] [--no-hearings]"),
    );
    let rounds: usize = args.next().map_or(3, |r| r.parse().expect("ROUNDS"));
    let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date");
    let snapshot = Snapshot::open(&SnapshotFile {
        date: day,
        build: 1,
        path: source.clone(),
    })
    .expect("a snapshot");
    let started = Instant::now();
    let mut courts = Vec::new();
    let mut n = 0u64;
    for court in snapshot.courts().expect("its courts") {
        let mut data = snapshot
            .court_data(&court.code)
            .expect("a court")
            .expect("the court");
        for case in &mut data.cases {
            n += 1;
            case.extracted = (hearings && case.queryable).then(|| digest(n));
            if !hearings {
                case.hearings = Default::default();
            }
        }
        courts.push(data);
    }
    let lists: usize = courts
        .iter()
        .flat_map(|c| &c.cases)
        .filter(|c| !c.hearings.is_empty())
        .count();
    println!(
        "{}: {} courts, {n} cases, {lists} hearing lists, read in {:.1} s",
        source.display(),
        courts.len(),
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir_in(source.parent().expect("a folder")).expect("a temporary folder");
    for round in 1..=rounds {
        let path = dir.path().join(format!("{round}.sqlite"));
        let (wall, cpu0) = (Instant::now(), cpu());
        let mut b = Builder::create(&path, day).expect("a builder");
        for court in &courts {
            b.add_court(court).expect("a court written");
        }
        let (load, cpu1) = (wall.elapsed().as_secs_f64(), cpu());
        let (counts, times) = b.finish(&path, 2).expect("indexed and verified");
        let cpu2 = cpu();
        println!(
            "round {round}: load {load:.2} s, {:.2} CPU-s; indexes {:.2} s, verify {:.2} s, \
             both {:.2} CPU-s; {:.1} MB ({} cases, {} hearing lists, {} digests)",
            cpu1 - cpu0,
            times.indexes_ms as f64 / 1000.0,
            times.verify_ms as f64 / 1000.0,
            cpu2 - cpu1,
            std::fs::metadata(&path).expect("the file").len() as f64 / 1e6,
            counts.cases,
            counts.hearing_lists,
            counts.extracted
        );
        std::fs::remove_file(&path).expect("removed");
    }
}
