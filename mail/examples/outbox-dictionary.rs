//! Trains a zstd dictionary per kind of nightly message for the outbox
//! (`mail/src/outbox/packed.rs`) from the messages of an outbox:
//!
//!     cargo run --release -p mail --example outbox-dictionary -- \
//!         OUTBOX.sqlite OUT_DIR [PER_KIND] [SIZE]
//!
//! For each nightly kind with at least 100 messages, takes up to PER_KIND
//! (2,000) of them, spread evenly over the table, and trains a dictionary
//! of SIZE bytes (65,536) on them: `OUT_DIR/<kind>-new.zdict`, to be
//! renamed with the next number of that kind.
//! Messages of real people must not be used: a dictionary is shipped in
//! the binary and keeps pieces of what it was trained on. Train on a
//! generated night (`scripts/bench-hearings` leaves none behind; import
//! the national batch of `scripts/bench-import` and run `send --today
//! 2026-11-30` with the window closed, as docs/BENCHMARKS.md's tenth
//! measurement did), then add the file to `DICTIONARIES`, never replacing
//! one already shipped.

use std::process::ExitCode;

use mail::kind::{Kind, Scope};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(2..=4).contains(&args.len()) {
        eprintln!("usage: outbox-dictionary OUTBOX.sqlite OUT_DIR [PER_KIND] [SIZE]");
        return ExitCode::from(2);
    }
    let per_kind: usize = args.get(2).map_or(2000, |a| a.parse().expect("PER_KIND"));
    let size: usize = args.get(3).map_or(65536, |a| a.parse().expect("SIZE"));
    let conn =
        rusqlite::Connection::open_with_flags(&args[0], rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the outbox opens");
    for kind in Kind::ALL.iter().filter(|k| k.scope() == Scope::Nightly) {
        let mut stmt = conn
            .prepare("SELECT id, coding, message FROM items WHERE kind = ?1 ORDER BY id")
            .expect("items");
        let rows: Vec<(i64, String, Vec<u8>)> = stmt
            .query_map([kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("items")
            .map(|r| r.expect("an item"))
            .collect();
        let step = rows.len().div_ceil(per_kind).max(1);
        let samples: Vec<Vec<u8>> = rows
            .into_iter()
            .step_by(step)
            .map(|(id, coding, stored)| {
                mail::outbox::unpack_kept(id, &coding, stored).expect("a readable message")
            })
            .filter(|m| !m.is_empty())
            .collect();
        if samples.len() < 100 {
            println!(
                "{}: {} messages, too few: none",
                kind.as_str(),
                samples.len()
            );
            continue;
        }
        let dictionary = zstd::dict::from_samples(&samples, size).expect("zstd trains");
        let out = std::path::Path::new(&args[1]).join(format!("{}-new.zdict", kind.as_str()));
        std::fs::write(&out, &dictionary).expect("the dictionary is written");
        println!(
            "{}: {} messages, {} ({} bytes, id {:?})",
            kind.as_str(),
            samples.len(),
            out.display(),
            dictionary.len(),
            zstd::zstd_safe::get_dict_id_from_dict(&dictionary)
        );
    }
    ExitCode::SUCCESS
}
