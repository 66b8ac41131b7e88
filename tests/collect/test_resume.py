"""A collect run killed with SIGKILL half-way is rerun and finishes with a consistent manifest."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from datakit.collect import collect
from datakit.project import Project
from tests.collect.helpers import korean_text, read_manifest

N_FILES = 3000


def _items_in_cache(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
        try:
            return int(con.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_rerun_after_kill_9_is_consistent(make_project: Callable[..., Path]) -> None:
    root = make_project("text_classification")
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = random.Random(3)
    for i in range(N_FILES):
        (raw / f"{i:05d}.txt").write_text(korean_text(rng, 10), encoding="utf-8")
    (raw / "dup.txt").write_text((raw / "00007.txt").read_text(encoding="utf-8"), encoding="utf-8")

    code = (
        "import sys; from datakit.project import Project; from datakit.collect import collect; "
        "collect(Project(sys.argv[1]), [sys.argv[2]], jobs=1)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(root), str(raw)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    db = root / ".datakit" / "collect" / "cache.sqlite"
    deadline = time.monotonic() + 60
    while _items_in_cache(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = _items_in_cache(db)
    assert 0 < done_before < N_FILES + 1
    assert not (root / "data" / "manifest.parquet").exists()

    result = collect(Project(root), [raw])
    assert result.files_read == N_FILES + 1 - done_before  # finished files are not read again
    rows = read_manifest(root)
    assert len(rows) == N_FILES + 1
    assert len({r["id"] for r in rows}) == N_FILES + 1
    assert result.duplicates == 1
    for r in rows:
        if r["status"] == "ok":
            stored = root / str(r["stored_path"])
            assert stored.read_text(encoding="utf-8") == r["text"]
    assert not list((root / ".datakit" / "collect" / "tmp").iterdir())

    # the same as a run that was never interrupted (apart from when items were taken in)
    other = make_project("text_classification", name="clean")
    collect(Project(other), [raw])

    def strip(rs: list[dict[str, object]]) -> list[dict[str, object]]:
        return sorted(
            ({k: v for k, v in r.items() if k != "collected_at"} for r in rs),
            key=lambda r: str(r["id"]),
        )

    clean_rows = read_manifest(other)
    # duplicate_of may legitimately pick the other copy when collected_at differs
    assert [(r["id"], r["sha256"], r["text"]) for r in strip(rows)] == [
        (r["id"], r["sha256"], r["text"]) for r in strip(clean_rows)
    ]
