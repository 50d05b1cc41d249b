// Included by the build scripts of `etl` and `query-server` (their
// `build.rs`): sets `CPOR_BUILD_COMMIT` to the commit the binary is built
// from, as `git rev-parse --short=12 HEAD` names it ("unknown" outside a
// git checkout, a source tarball say), for `--version`. The build reruns
// when HEAD or a branch moves, wherever git keeps them (a worktree's
// `.git` is a file).

fn emit_build_commit() {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CPOR_BUILD_COMMIT={commit}");
    for path in ["HEAD", "refs/heads", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        for path in ["refs/heads", "packed-refs"] {
            let p = std::path::Path::new(&common).join(path);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
