//! Imports of generated batches (national shape, small size): the output
//! does not depend on the thread count or on how files are chunked, and a
//! second night imports over the first.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{court, Env};

fn generate(dir: &Path, cases: u64) -> Vec<PathBuf> {
    generator::generate(
        dir,
        &generator::Params {
            seed: 11,
            cases,
            first_night: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            nights: 2,
            courts: Vec::new(),
            news_share: 0.05,
        },
    )
    .unwrap()
}

/// Imports both nights with these settings; returns the two snapshots' bytes.
fn import_both(env: &Env, nights: &[PathBuf], threads: &str, chunk_bytes: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for night in nights {
        let mut cmd = env.command();
        cmd.env("CPOR_IMPORT_CHUNK_BYTES", chunk_bytes)
            .arg("import")
            .arg(night)
            .args(["--threads", threads]);
        let run: crate::util::Run = cmd.output().unwrap().into();
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let name = env.current();
        out.push(fs::read(env.data().join("snapshots").join(name)).unwrap());
    }
    out
}

#[test]
fn threads_and_chunks_never_change_the_snapshot() {
    let gen = tempfile::tempdir().unwrap();
    let nights = generate(gen.path(), 6000);
    // The biggest progress file must be split for this test to mean anything.
    let biggest = fs::read_dir(&nights[0])
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap();
    assert!(
        biggest > 64 * 1024 * 8,
        "files too small to chunk: {biggest}"
    );

    let one = Env::new();
    let single = import_both(&one, &nights, "1", "1000000000");
    let many = Env::new();
    let chunked = import_both(&many, &nights, "4", "65536");
    for (night, (a, b)) in single.iter().zip(&chunked).enumerate() {
        assert!(
            a == b,
            "night {} differs between 1 thread unchunked and 4 threads in 64 KiB chunks",
            night + 1
        );
    }
    assert_eq!(one.live_dump(), many.live_dump());

    let report = many.report("20261124");
    assert_eq!(report["outcome"], "published");
    let tpd = &court(&report, "TPD")["stats"];
    assert!(tpd["versions_collapsed"].as_u64().unwrap() > 0);
    assert!(tpd["withdrawn"].as_u64().unwrap() > 0);
    assert_eq!(
        court(&report, "PCD")["stats"]["files"]["progress"]["encoding"],
        "utf8"
    );
    assert_eq!(court(&report, "TPS")["status"], "out_of_scope");
}
