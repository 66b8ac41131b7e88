"""The one shard writer (``shards.ShardFile``, and the local engine's ``ShardWriter`` over it)
writes bytes that depend only on the rows: the same rows fed as one table, as many small
record batches, in irregular pieces or as a Spark task receives them give identical files.

pyarrow ends a data page wherever an input chunk ends, so a writer that passes its input
batches through puts the page boundaries (and the checksums) where the input was cut; the
first test shows that this happens with these very rows, so the others are not vacuous."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakit.labels import content_column
from datakit.package.shards import ShardFile, ShardWriter, release_schema, writer_options
from datakit.project import Project
from datakit.spec.model import ProjectSpec

ROWS = 5_000
ROW_GROUP = 1_500  # not a divisor of ROWS: the last row group is shorter
WORDS = (
    "배송이",
    "빠르고",
    "포장도",
    "꼼꼼해요",
    "사이즈가",
    "작아요",
    "색상은",
    "화면과",
    "달라요",
)


def _value(t: pa.DataType, name: str, i: int, content: str) -> Any:
    if i % 13 == 7 and name != "id":
        return None
    if pa.types.is_struct(t):
        return {
            t.field(k).name: _value(t.field(k).type, t.field(k).name, i, "")
            for k in range(t.num_fields)
        }
    if pa.types.is_list(t):
        return [_value(t.value_type, name, i + k, "") for k in range(i % 4)]
    if pa.types.is_binary(t):  # media bytes: incompressible, of varying size
        return random.Random(i).randbytes(100 + i % 400)
    if pa.types.is_string(t):
        if name == "id":
            return f"item-{i:06d}"
        if name == content:  # Korean text of very different lengths: many data pages
            return " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1 + (i * 37) % 160))
        return f"{name}-{i % 23}"
    if pa.types.is_integer(t):
        return i
    if pa.types.is_floating(t):
        return i / 7
    if pa.types.is_boolean(t):
        return i % 3 == 0
    raise AssertionError(f"no test value for {name}: {t}")  # pragma: no cover


def _rows(spec: ProjectSpec, n: int = ROWS) -> pa.Table:
    schema = release_schema(spec, "embed")
    content = content_column(spec)
    cols = [
        pa.array([_value(f.type, f.name, i, content) for i in range(n)], f.type) for f in schema
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def _chunkings(table: pa.Table) -> dict[str, Callable[[], Iterator[pa.RecordBatch | pa.Table]]]:
    """The same rows cut in different ways."""

    def irregular() -> Iterator[pa.RecordBatch]:
        rnd, start = random.Random(16), 0
        while start < table.num_rows:
            n = rnd.randint(1, 3_000)
            yield from table.slice(start, n).to_batches()
            start += n

    def spark_task() -> Iterator[pa.RecordBatch]:
        # Arrow batches of spark.sql.execution.arrow.maxRecordsPerBatch rows, each sliced
        # where the next shard (or a content read) begins, as _ShardTask.run does
        for batch in table.to_batches(max_chunksize=1_000):
            cut = batch.num_rows // 3
            yield batch.slice(0, cut)
            yield batch.slice(cut)

    return {
        "one table": lambda: iter([table.combine_chunks()]),
        "small batches": lambda: iter(table.to_batches(max_chunksize=7)),
        "irregular": irregular,
        "spark task": spark_task,
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=["text_classification", "ner", "object_detection"])
def spec(request: pytest.FixtureRequest, make_project: Callable[..., Path]) -> ProjectSpec:
    return Project(make_project(request.param)).spec


def test_passing_chunks_through_moves_the_page_boundaries(tmp_path: Path) -> None:
    """Why the writer re-chunks: written as they arrive, the same rows give other bytes."""
    table = pa.table({"text": [_value(pa.string(), "text", i, "text") for i in range(ROWS)]})
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=333))
    opts = writer_options(table.schema)
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=ROWS, **opts)
    pq.write_table(chunked, tmp_path / "b.parquet", row_group_size=ROWS, **opts)
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))
    assert _sha(tmp_path / "a.parquet") != _sha(tmp_path / "b.parquet")


def test_same_rows_in_any_chunking_give_identical_bytes(tmp_path: Path, spec: ProjectSpec) -> None:
    table = _rows(spec)
    digests = {}
    for name, batches in _chunkings(table).items():
        path = tmp_path / f"{name}.parquet"
        shard = ShardFile(path, table.schema, ROW_GROUP)
        for batch in batches():
            shard.add(batch)
        size = shard.close()
        assert size == path.stat().st_size and shard.rows == ROWS
        assert not list(tmp_path.glob("*.tmp"))  # written under a temporary name, renamed
        back = pq.ParquetFile(path)
        assert [back.metadata.row_group(k).num_rows for k in range(back.num_row_groups)] == [
            1_500,
            1_500,
            1_500,
            500,
        ]
        got = back.read()
        assert got.schema.metadata == table.schema.metadata  # Hugging Face features
        assert got.cast(table.schema).equals(table), name
        digests[name] = _sha(path)
    assert len(set(digests.values())) == 1, digests
    # The writer records no time: a second write now gives the same bytes.
    again = ShardFile(tmp_path / "again.parquet", table.schema, ROW_GROUP)
    again.add(table)
    again.close()
    assert _sha(tmp_path / "again.parquet") == digests["one table"]


def test_local_writer_shards_equal_shard_files_of_their_rows(
    tmp_path: Path, spec: ProjectSpec
) -> None:
    """The local engine's writer (threaded, one writer per split, shards rolled over by row
    count) writes each shard as a Spark task writes the same rows, whatever the batches."""
    table = _rows(spec)
    per_shard = 2_200
    # item i goes to train unless i % 5 == 0 (validation); test stays empty
    split_of = ["validation" if i % 5 == 0 else "train" for i in range(ROWS)]
    parts = {s: table.filter(pa.array([x == s for x in split_of])) for s in ("train", "validation")}
    sizes = {
        "train": parts["train"].num_rows,
        "validation": parts["validation"].num_rows,
        "test": 0,
    }
    expected = {}
    (tmp_path / "expected").mkdir()
    for s, rows in parts.items():
        count = -(-rows.num_rows // per_shard)
        for k in range(count):
            name = f"{s}-{k:05d}-of-{count:05d}.parquet"
            shard = ShardFile(tmp_path / "expected" / name, table.schema, ROW_GROUP)
            shard.add(rows.slice(k * per_shard, per_shard))
            shard.close()
            expected[name] = _sha(tmp_path / "expected" / name)
    empty = ShardFile(tmp_path / "expected" / "test-00000-of-00001.parquet", table.schema, 1)
    empty.close()
    expected["test-00000-of-00001.parquet"] = _sha(
        tmp_path / "expected" / "test-00000-of-00001.parquet"
    )

    for name, batches in _chunkings(table).items():
        folder = tmp_path / name.replace(" ", "-")
        writer = ShardWriter(
            folder, table.schema, sizes, rows_per_shard=per_shard, row_group_rows=ROW_GROUP
        )
        done = 0
        for batch in batches():
            for b in batch.to_batches() if isinstance(batch, pa.Table) else [batch]:
                mask = [split_of[done + j] for j in range(b.num_rows)]
                done += b.num_rows
                for s in ("train", "validation"):
                    rows = b.filter(pa.array([x == s for x in mask]))
                    if rows.num_rows:
                        writer.add(s, rows)
        files = writer.close()
        assert {p.name for paths in files.values() for p in paths} == set(expected)
        assert {p.name: _sha(p) for p in folder.iterdir()} == expected, name
