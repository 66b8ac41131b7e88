"""The file system refuses (disk full, file size limit, read-only): a clear message naming
the path, exit code 4 (not the gate's 1), no traceback, no temporary file left behind."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datakit.cli.app import app
from datakit.errors import EXIT_STORAGE, StorageError, storage_error
from tests.package.builders import make_ready_project


def test_storage_errors_are_mapped_and_others_are_not() -> None:
    full = storage_error(OSError(errno.ENOSPC, "No space left on device", "/p/reports/x.json"))
    assert isinstance(full, StorageError) and full.exit_code == EXIT_STORAGE == 4
    assert "no space left" in full.message and "/p/reports/x.json" in full.message
    short = storage_error(OSError(errno.EROFS, "Read-only", "/p/releases/1.0"), root="/p")
    assert short is not None and short.message.startswith("releases/1.0: ")
    assert storage_error(FileNotFoundError(errno.ENOENT, "No such file", "x")) is None


def test_file_size_limit_during_package(make_project: Callable[..., Path]) -> None:
    """``ulimit -f`` while the shards are written: exit 4 naming the file, nothing left."""
    project = make_ready_project(make_project, n=3000)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    env = {k: v for k, v in os.environ.items() if k != "DATAKIT_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "datakit", "package", "-p", str(project.root)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 4, proc.stderr
    assert "file size limit" in proc.stderr and "Traceback" not in proc.stderr
    assert "releases/" in proc.stderr or ".parquet" in proc.stderr
    releases = project.paths.releases
    assert not (releases / "1.0").exists()
    assert not list(releases.glob(".tmp-*")), "a temporary release folder was left behind"


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"), (errno.EACCES, "permission")],
)
def test_disk_full_or_read_only_while_planning(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    """A fault injected where every atomic write flushes its temporary file (as root, modes
    cannot refuse a write): the error names the file, and no temporary file is left."""
    root = make_project()

    def refuse(fd: int) -> None:
        raise OSError(code, os.strerror(code))  # like a low-level write: no file name

    monkeypatch.setattr(os, "fsync", refuse)
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["plan", "-p", str(root)])
    assert result.exit_code == 4, result.output
    assert words in result.output and "labeling/" in result.output
    assert "Traceback" not in result.output
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
