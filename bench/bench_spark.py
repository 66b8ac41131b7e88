"""Local engine vs Spark ``local[2]`` on one machine: check (the syntactic census with its
pairing and counts, the expectation suites, the indicators) and package, at 1M and 10M
records, so users can see where the crossover lies. The census and suite phases of the
check are timed separately.

    .venv/bin/python bench/bench_spark.py            # 1M and 10M records (about 40 min here)
    .venv/bin/python bench/bench_spark.py --quick    # 100k and 300k records
    .venv/bin/python bench/bench_spark.py --sizes 1000000 --master 'local[2]'

Each measurement runs in a fresh subprocess. Reported per run: wall time, the peak RSS of
the Python driver, of the JVM (Spark's driver, and with a local master its executors too)
and of the Python worker processes Spark starts, sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KINDS = ("check", "package")


class TreeSampler:
    """Peak RSS of this process's children (JVM, Python workers), sampled on a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peaks = {"jvm_mb": 0.0, "workers_mb": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            jvm = workers = 0
            try:
                for child in self.proc.children(recursive=True):
                    try:
                        rss = child.memory_info().rss
                        if "java" in child.name():
                            jvm += rss
                        else:
                            workers += rss
                    except psutil.Error:
                        continue
            except psutil.Error:
                pass
            self.peaks["jvm_mb"] = max(self.peaks["jvm_mb"], jvm / 2**20)
            self.peaks["workers_mb"] = max(self.peaks["workers_mb"], workers / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def setup(root: str, n: str) -> dict[str, Any]:
    from bench.bench_package import make_project, write_text_inputs

    t0 = time.perf_counter()
    write_text_inputs(make_project(Path(root), "text_classification"), int(n))
    return {"seconds": time.perf_counter() - t0}


def worker(kind: str, engine: str, root: str) -> dict[str, Any]:
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.json  # noqa: F401

    from datakit.project import Project

    project = Project(root)
    session_seconds = 0.0
    if engine == "spark":  # start the JVM before the clock, as a running cluster would be
        from datakit.engine import spark_session

        t = time.perf_counter()
        spark_session(project.spec)
        session_seconds = time.perf_counter() - t
    with TreeSampler() as sampler:
        t0 = time.perf_counter()
        if kind == "check":
            from datakit.check.run import check

            marks: list[tuple[str, float]] = []
            report = check(
                project,
                write=False,
                engine=engine,
                on_phase=lambda name: marks.append((name, time.perf_counter())),
            )
            end = time.perf_counter()
            marks.append(("end", end))
            census_start = next(t for name, t in marks if "구문" in name)
            census_end = next(t for name, t in marks if name == "형식성")
            suites_start = next(t for name, t in marks if name == "Great Expectations")
            summary: dict[str, Any] = {
                "passed": report.passed,
                "syntactic": report.indicators["syntactic"].value,
                "completeness": report.indicators["completeness"].value,
            }
            phases = {"census": census_end - census_start, "suites": end - suites_start}
        else:
            from datakit.package.run import package

            version = f"bench-{engine}"
            shutil.rmtree(project.paths.releases / version, ignore_errors=True)
            rel = package(project, version=version, engine=engine)
            summary = {"total": rel.total, "splits": rel.splits}
            phases = {}
            shutil.rmtree(rel.path, ignore_errors=True)
        seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "session_seconds": session_seconds,
        "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **sampler.peaks,
        "phases": phases,
        "summary": summary,
    }


def run(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="100k and 300k records")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        fn = setup if args.worker[0] == "setup" else worker
        print(json.dumps(fn(*args.worker[1:]) if fn is setup else fn(*args.worker)))
        return
    sizes = args.sizes or ((100_000, 300_000) if args.quick else (1_000_000, 10_000_000))
    env = {"MASTER": args.master, "DATAKIT_SPARK_LOG_LEVEL": "ERROR"}
    tmp = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        print(f"# local engine vs Spark {args.master}, {os.cpu_count()} CPUs")
        print(
            f"{'records':>11} {'stage':<8} {'engine':<6} {'seconds':>8} {'ratio':>6} "
            f"{'driver MB':>10} {'JVM MB':>8} {'workers MB':>11}"
        )
        for n in sizes:
            root = tmp / f"n{n}"
            built = run(["setup", str(root), str(n)])
            print(f"# {n:,} records built in {built['seconds']:.0f} s", flush=True)
            for kind in args.kinds:
                res = {e: run([kind, e, str(root)], env) for e in ("local", "spark")}
                for e, r in res.items():
                    if e == "spark" and r["summary"] != res["local"]["summary"]:
                        raise SystemExit(f"{kind}: engines disagree {res}")
                    ratio = r["seconds"] / res["local"]["seconds"]
                    parts = ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items())
                    print(
                        f"{n:>11,} {kind:<8} {e:<6} {r['seconds']:>8.1f} {ratio:>5.2f}x "
                        f"{r['driver_mb']:>10.0f} {r['jvm_mb']:>8.0f} {r['workers_mb']:>11.0f}"
                        + (f"   ({parts})" if parts else ""),
                        flush=True,
                    )
            shutil.rmtree(root, ignore_errors=True)
        print("\nratio = time / the local engine's time; Spark's session start is not counted.")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
