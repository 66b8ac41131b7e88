"""The label snapshot `datakit check` leaves for `datakit package`: used only when it was made
from the same labels.jsonl with the same label schema, and the release is byte-identical
with or without it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import datakit.release_keys as release_keys
from datakit.check.run import check
from datakit.errors import InputError
from datakit.io import sha256_file
from datakit.label_table import SHA_KEY, read_snapshot, snapshot_path, write_snapshot
from datakit.package.run import package
from datakit.project import Project


def _sums(path: Path) -> str:
    return (path / "SHA256SUMS").read_text(encoding="utf-8")


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*a: object, **k: object) -> None:
        raise AssertionError("labels.jsonl was parsed although the snapshot is current")

    monkeypatch.setattr(release_keys, "read_labels", fail)  # fault injection: parsing is an error


def test_check_leaves_a_snapshot_package_uses_and_the_release_is_the_same(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=80, group=lambda i: f"g{i % 9}")
    check(project)
    snap = snapshot_path(project)
    assert snap.is_file()
    meta = pq.ParquetFile(snap).schema_arrow.metadata
    assert meta[SHA_KEY].decode() == sha256_file(project.paths.labels)
    # A copy without the snapshot parses labels.jsonl itself.
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy, ignore=shutil.ignore_patterns("releases", ".datakit"))
    parsed = package(Project(copy), accept_failed_check=True)

    with monkeypatch.context() as m:
        _no_parsing(m)
        from_snapshot = package(project, accept_failed_check=True)
    assert _sums(from_snapshot.path) == _sums(parsed.path)
    assert (from_snapshot.path / "metadata.json").read_bytes() == (
        parsed.path / "metadata.json"
    ).read_bytes()


def test_a_stale_damaged_or_foreign_snapshot_is_not_used(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=40)
    assert write_snapshot(project, sha256_file(project.paths.labels))
    spec = project.spec
    current = sha256_file(project.paths.labels)
    assert read_snapshot(project, spec, current) is not None

    # Relabel one item after the snapshot: the release must carry the new label.
    lines = project.paths.labels.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    classes = spec.task.class_names
    first["label"] = next(c for c in classes if c != first["label"])
    lines[0] = json.dumps(first, ensure_ascii=False)
    project.paths.labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_snapshot(project, spec, sha256_file(project.paths.labels)) is None
    result = package(project, accept_failed_check=True)
    table = pq.read_table(result.path / "data", columns=["id", "label"]).to_pylist()
    assert {"id": first["id"], "label": first["label"]} in table

    # Damaged bytes, or the right digest over other columns, are no snapshot either.
    digest = sha256_file(project.paths.labels)
    snapshot_path(project).write_bytes(b"PAR1 not really parquet")
    assert read_snapshot(project, spec, digest) is None
    other = pa.table({"id": ["x"], "something": [1]})
    other = other.replace_schema_metadata({SHA_KEY: digest.encode()})
    pq.write_table(other, snapshot_path(project))
    assert read_snapshot(project, spec, digest) is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"id": "item-9999999", "label": 5}\n', "does not fit"),  # a number for a class
        (b'{"id": "item-9999999", "label": "\xed\x95"}\n', "line 21 is not UTF-8"),
        (b'{"id": "item-9999999", "label": \n', "line 21 is not JSON"),
    ],
)
def test_labels_that_do_not_parse_leave_no_snapshot(ready, bad: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    """The check has reported these records already: no snapshot (an old one is removed, not
    left stale), and package names the line or the item and field, without a traceback."""
    project = ready(n=20)
    assert write_snapshot(project, sha256_file(project.paths.labels))
    with project.paths.labels.open("ab") as fh:
        fh.write(bad)
    assert not write_snapshot(project, sha256_file(project.paths.labels))
    assert not snapshot_path(project).exists()
    with pytest.raises(InputError, match=message) as exc:
        package(project, accept_failed_check=True)
    assert exc.value.file == "annotations/labels.jsonl"
