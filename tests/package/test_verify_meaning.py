"""``verify`` checks meaning, not only bytes: a shard rewritten with other values and fresh
checksums (in SHA256SUMS and in metadata.json's file list) is caught by the release's Arrow
schema, its value rules (classes, choices, ranges, required values) and its class counts."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakit.io import read_json, sha256_file, write_json
from datakit.package.run import package, write_sums
from datakit.package.verify import verify_release
from datakit.project import Project

SHARD = "data/train-00000-of-00001.parquet"


def _resign(release: Path) -> None:
    """What a careless (or hostile) edit does after changing a shard: fix every checksum."""
    meta = read_json(release / "metadata.json")
    for f in meta["files"]:
        f["sha256"] = sha256_file(release / f["path"])
        f["bytes"] = (release / f["path"]).stat().st_size
    write_json(release / "metadata.json", meta)
    write_sums(release)


def _rewrite(release: Path, tmp: Path, name: str, change: Callable[[pa.Table], pa.Table]) -> Path:
    copy = tmp / name
    shutil.copytree(release, copy)
    table = pq.read_table(copy / SHARD)
    pq.write_table(change(table), copy / SHARD)
    _resign(copy)
    return copy


def _set(table: pa.Table, name: str, values: list[object]) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


@pytest.fixture
def release(ready: Callable[..., Project]) -> Path:
    path = package(ready(n=60)).path
    assert verify_release(path).ok
    return path


def test_a_class_outside_the_taxonomy_is_caught(release: Path, tmp_path: Path) -> None:
    def change(t: pa.Table) -> pa.Table:
        labels = t.column("label").to_pylist()
        labels[0] = "없는클래스"
        return _set(t, "label", labels)

    r = verify_release(_rewrite(release, tmp_path, "class", change))
    assert r.checks["checksums"] and r.checks["metadata"]  # the bytes add up
    assert not r.ok and r.checks["values"] is False
    assert any("없는클래스" in p.message for p in r.problems)


def test_relabelled_rows_change_the_class_counts(release: Path, tmp_path: Path) -> None:
    def change(t: pa.Table) -> pa.Table:  # valid classes, other counts
        return _set(t, "label", [t.column("label")[0].as_py()] * t.num_rows)

    r = verify_release(_rewrite(release, tmp_path, "counts", change))
    assert not r.ok
    assert any(p.check == "counts" and "class counts" in p.message for p in r.problems)


def test_a_choice_out_of_range_a_missing_required_value_and_a_short_text(
    release: Path, tmp_path: Path
) -> None:
    def change(t: pa.Table) -> pa.Table:
        diff = t.column("difficulty").to_pylist()
        diff[1] = "불가능"
        text = t.column("text").to_pylist()
        text[2] = "짧"  # the field dictionary says at least 5 characters
        ids = t.column("source").to_pylist()
        ids[3] = None
        return _set(_set(_set(t, "difficulty", diff), "text", text), "source", ids)

    r = verify_release(_rewrite(release, tmp_path, "values", change))
    messages = " | ".join(p.message for p in r.problems if p.check == "values")
    assert "불가능" in messages and "below the minimum 5" in messages
    assert "lack a required value" in messages


def test_a_changed_schema_is_caught(release: Path, tmp_path: Path) -> None:
    r = verify_release(
        _rewrite(release, tmp_path, "schema", lambda t: t.drop_columns(["difficulty"]))
    )
    assert any(p.check == "values" and "schema" in p.message for p in r.problems)
