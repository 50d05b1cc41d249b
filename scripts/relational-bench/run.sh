#!/usr/bin/env bash
# Reproduces the relational-stage figures: path A (plain Rust) vs path B
# (polars) on the national bench batch, and what polars adds to a clean
# release build. Writes everything under results/ beside this script.
#
#   scripts/relational-bench/run.sh [machine|bench|check|diagnostics|build|all]
#
# Environment: DATA (the batch folder), RUNS (default 3), WAIT_IDLE (seconds
# to wait for an idle machine before each measurement, default 600; 0 = don't).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
DATA="${DATA:-$root/target/bench-data/national-s1-c1000000/20261123}"
RUNS="${RUNS:-3}"
WAIT_IDLE="${WAIT_IDLE:-600}"
export POLARS_MAX_THREADS=2
out="$here/results"
mkdir -p "$out"
bin_dir="$root/target/relational-bench/release"

# Busy CPU share of the whole machine over one second, in percent.
busy() {
    local a b
    read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ < /proc/stat
    sleep 1
    read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ < /proc/stat
    a=$(( (u2+n2+s2+q2+sq2+st2) - (u1+n1+s1+q1+sq1+st1) ))
    b=$(( a + (i2+w2) - (i1+w1) ))
    echo $(( 100 * a / (b > 0 ? b : 1) ))
}

# Waits until the machine is nearly idle (other sessions may be running
# benchmarks or builds), and notes what it found.
wait_idle() {
    local label="$1" waited=0 b
    while :; do
        b=$(busy)
        if (( b <= 10 )) || (( waited >= WAIT_IDLE )); then break; fi
        sleep 9; waited=$((waited + 10))
    done
    echo "$(date -Is) $label: busy ${b}% after waiting ${waited}s" >> "$out/idle.log"
}

machine() {
    {
        echo "date: $(date -Is)"
        echo "nproc: $(nproc)"
        echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(grep -m1 -o 'avx512f' /proc/cpuinfo || echo 'no avx512f'), L3 $(grep -m1 'cache size' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
        echo "mem: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
        echo "kernel: $(uname -r)"
        echo "rustc: $(rustc --version)"
        echo "cargo: $(cargo --version)"
        echo "polars: $(grep -A1 '^name = "polars"$' Cargo.lock | sed -n 's/version = //p' | tr -d '"')"
        echo "etl commit: $(git -C "$root" rev-parse --short HEAD) (working tree: $(git --no-optional-locks -C "$root" status --short -- etl schemas | wc -l) changed files under etl/ schemas/)"
        echo "data: $DATA ($(du -sh "$DATA" | cut -f1))"
    } | tee "$out/machine.txt"
}

# Two binaries: glibc's allocator (the figures) and mimalloc (sensitivity).
build_harness() {
    CARGO_TARGET_DIR="$root/target/relational-bench" cargo build --release --features polars,mimalloc
    cp "$bin_dir/relational-bench" "$bin_dir/relational-bench-mimalloc"
    CARGO_TARGET_DIR="$root/target/relational-bench" cargo build --release --features polars
}

# CPU seconds the whole machine spent busy since boot (all cores).
machine_cpu_s() {
    awk '/^cpu / {printf "%.2f\n", ($2+$3+$4+$7+$8+$9)/100}' /proc/stat
}

# Runs a command under /usr/bin/time; notes how much CPU other processes
# used meanwhile (machine busy CPU minus the command's own user+sys).
measured() {
    local name="$1"; shift
    local before after
    before=$(machine_cpu_s)
    # %M: for the harness, the peak RSS since it last reset it (it does, after the
    # parse and before each path/query; it prints the real ones); for a build,
    # the largest single process (rustc).
    /usr/bin/time -f "wall_s: %e\nmaxrss_kib: %M\nuser_s: %U\nsys_s: %S" -o "$out/$name.time" "$@" \
        > "$out/$name.txt" 2> "$out/$name.err"
    after=$(machine_cpu_s)
    awk -v b="$before" -v a="$after" '/^user_s|^sys_s/ {own += $2}
        END {printf "other_processes_cpu_s: %.1f\n", (a - b) - own}' "$out/$name.time" >> "$out/$name.time"
    cat "$out/$name.time"
}

# Timing runs: one process per path (so /usr/bin/time gives each path's peak
# RSS), RUNS runs each after the parse, page cache warm.
bench() {
    build_harness
    local p alloc suffix
    for alloc in glibc mimalloc; do
        suffix=""; [[ $alloc == mimalloc ]] && suffix="-mimalloc"
        for p in rust polars; do
            cat "$DATA"/*.csv > /dev/null   # warm page cache
            wait_idle "bench $p $alloc"
            measured "bench-$p-$alloc" "$bin_dir/relational-bench$suffix" --data "$DATA" --path "$p" --runs "$RUNS"
            grep -E 'median|kept|fastest|fingerprint' "$out/bench-$p-$alloc.txt"
        done
    done
}

# Both paths in one process: entry-by-entry comparison, plus the heap peak
# of each path (counting allocator).
check() {
    build_harness
    local alloc suffix
    for alloc in glibc mimalloc; do
        suffix=""; [[ $alloc == mimalloc ]] && suffix="-mimalloc"
        wait_idle "check $alloc"
        measured "check-$alloc" "$bin_dir/relational-bench$suffix" --data "$DATA" --path both --runs 1 --heap
        grep -E 'identical|kept|heap' "$out/check-$alloc.txt"
    done
}

# Clean release builds of the same harness without and with polars, each in a
# fresh target folder, sources fetched beforehand (compile time only).
build() {
    cargo fetch
    local f dir
    for f in nopolars polars; do
        dir="$root/target/relational-bench-$f"
        rm -rf "$dir"
        wait_idle "build $f"
        local feat=()
        [[ $f == polars ]] && feat=(--features polars)
        measured "build-$f" env CARGO_TARGET_DIR="$dir" cargo build --release --offline "${feat[@]}"
        # The edit-compile loop: the harness crate alone, rebuilt and linked.
        touch src/main.rs
        wait_idle "rebuild $f"
        measured "rebuild-$f" env CARGO_TARGET_DIR="$dir" cargo build --release --offline "${feat[@]}"
        {
            cat "$out/build-$f.time"
            echo "crates_compiled: $(grep -c '^ *Compiling ' "$out/build-$f.err")"
            echo "rebuild_after_touch_wall_s: $(sed -n 's/^wall_s: //p' "$out/rebuild-$f.time")"
            echo "binary_bytes: $(stat -c %s "$dir/release/relational-bench")"
            strip -o "$dir/relational-bench.stripped" "$dir/release/relational-bench"
            echo "binary_stripped_bytes: $(stat -c %s "$dir/relational-bench.stripped")"
            echo "target_dir_bytes: $(du -sb "$dir" | cut -f1)"
        } | tee "$out/build-$f.txt"
    done
}

# Where path B's time goes: stages of the query alone (glibc build).
diagnostics() {
    build_harness
    wait_idle diagnostics
    measured diagnostics-glibc "$bin_dir/relational-bench" --data "$DATA" --path polars --runs "$RUNS" \
        --query x_sort4,x_sort4_unique,x_sort4_unique_sort3,x_window_max,x_sort_packed
    grep -E 'query_runs|rows_out' "$out/diagnostics-glibc.txt"
}

case "${1:-all}" in
    machine) machine ;;
    bench) bench ;;
    check) check ;;
    build) build ;;
    diagnostics) diagnostics ;;
    all) machine; check; bench; diagnostics; build ;;
    *) echo "usage: $0 [machine|bench|check|diagnostics|build|all]" >&2; exit 2 ;;
esac
