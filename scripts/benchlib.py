"""What the benchmark scripts share: the cached national batch and one
measured run of a command, an earlier commit's build. (Imported by
scripts/bench-import, scripts/bench-compare, scripts/bench-send,
scripts/bench-hearings and scripts/bench-hearings-instructions; not a
script itself.)"""

import datetime

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("CPOR_BENCH_DIR", ROOT / "target" / "bench-data"))


def build_etl(features, target):
    """cpor-etl built from this tree into `target` with cargo's `features`
    arguments (`[]`: as shipped); its path."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "etl", *features], cwd=ROOT, env=env, check=True)
    return target / "release" / "cpor-etl"


def build_at(commit, work):
    """cpor-etl at `commit`, built in a git worktree of its own under
    `work` (`work/tree`, its target directory `work/target`); its path."""
    tree = work / "tree"
    if tree.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
    subprocess.run(["git", "worktree", "add", "--detach", "--force", str(tree), commit], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    env = dict(os.environ, CARGO_TARGET_DIR=str(work / "target"))
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "etl", "--bin", "cpor-etl"], cwd=tree,
                   env=env, check=True)
    return work / "target" / "release" / "cpor-etl"


def build_generator(target):
    """cpor-gen built from this tree (release) into `target`; its path."""
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "generator"], cwd=ROOT, check=True)
    return target / "release" / "cpor-gen"


def closed_window():
    """A send window of one minute, six hours from now (Asia/Taipei): a
    `send` queues the day's reminders and delivers nothing."""
    taipei = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
    start = taipei + datetime.timedelta(hours=6)
    end = start + datetime.timedelta(minutes=1)
    return start.strftime("%H:%M"), end.strftime("%H:%M")


def reminders_of(etl, day):
    """`send --today DAY` as if it were that day (the benchmarks' day is
    fixed, 2026-11-30): `--force` where the build has it (since it refuses
    a day other than today or yesterday without it)."""
    help_text = subprocess.run([etl, "send", "--help"], capture_output=True, text=True).stdout
    return ["send", "--today", day] + (["--force"] if "--force" in help_text else [])


def national_batch(gen, cases, seed):
    """The national batch of `cases` cases (seed `seed`), generated once
    with `cpor-gen` and cached under BENCH: its directory, with nights
    20261123 and 20261124 in it."""
    base = BENCH / f"national-s{seed}-c{cases}"
    if not (base / ".complete").exists():
        print(f"generating {cases} cases into {base} (once) ...", flush=True)
        shutil.rmtree(base, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run([gen, "--out", base, "--cases", str(cases), "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        print(f"  generated in {time.perf_counter() - t:.1f} s")
        (base / ".complete").touch()
    return base


@dataclass
class Measured:
    wall: float  # seconds
    cpu: float  # user + system, seconds
    rss: float  # peak, MiB
    out: str
    err: str
    # Bytes the process wrote to storage (getrusage's ru_oublock, in 512-byte
    # blocks, counted when a page is dirtied), MB: unlike time, it does not
    # move with a noisy machine.
    written: float = 0.0


def run_measured(cmd, env=None, ok=(0,), what="bench"):
    """Runs `cmd` to its end and measures it (getrusage of the child).
    Exits, naming the command, if its exit code is not in `ok`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if code not in ok:
        sys.exit(f"{what}: {' '.join(map(str, cmd))} exited {code}\n{e}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, o, e, usage.ru_oublock * 512 / 1e6)
