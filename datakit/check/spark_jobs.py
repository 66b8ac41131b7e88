"""What the check's Spark jobs share: byte ranges of a JSONL file that executors read
themselves, Arrow batches in a Spark DDL schema, and a DataFrame of one task per row.

``spark`` (the census and figures) and ``spark_expectations`` (the label table of the
suites) both split ``labels.jsonl`` with :func:`byte_ranges` and read a range with
:func:`owned_bytes`, so they see the same lines in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RANGE_BYTES = 32 << 20  # at most this many bytes of labels.jsonl per task
_BLOCK = 1 << 16


def arrow_schema(ddl: str) -> Any:
    """The Arrow schema of a flat Spark DDL (``"name type, …"``), for mapInArrow output."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int": pa.int32(),
        "long": pa.int64(),
        "boolean": pa.bool_(),
        "array<string>": pa.list_(pa.string()),
    }
    return pa.schema([(n, types[t]) for n, t in (c.split() for c in ddl.split(", "))])


def arrow_batch(ddl: str, rows: list[dict[str, Any]]) -> Any:
    """``rows`` (dicts; a missing key is null) as one Arrow batch of the DDL's schema."""
    import pyarrow as pa

    schema = arrow_schema(ddl)
    return pa.RecordBatch.from_pydict(
        {n: [r.get(n) for r in rows] for n in schema.names}, schema=schema
    )


def one_task_per_row(spark: Any, rows: list[tuple[Any, ...]], ddl: str) -> Any:
    """A DataFrame with one partition per row (each row is one task's work)."""
    sc = spark.sparkContext
    return spark.createDataFrame(sc.parallelize(rows, max(1, len(rows))), ddl)


# -- byte ranges (executors read them) --------------------------------------------------------


def _filesystem(location: str) -> tuple[Any, str]:
    from pyarrow import fs

    if "://" in location:
        filesystem, path = fs.FileSystem.from_uri(location)
        return filesystem, path
    return fs.LocalFileSystem(), str(Path(location).resolve())


def file_size(location: str) -> int:
    filesystem, path = _filesystem(location)
    size: int = filesystem.get_file_info(path).size or 0
    return size


def byte_ranges(
    size: int, parallelism: int, range_bytes: int | None = None
) -> list[tuple[int, int]]:
    """[start, end) ranges covering ``size`` bytes: no range larger than ``range_bytes``, and
    at least ``parallelism`` of them when the file is large enough (64 KiB a range) to bother."""
    if size <= 0:
        return []
    n = max(1, -(-size // (range_bytes or RANGE_BYTES)), min(parallelism, size // _BLOCK))
    step = -(-size // n)
    return [(a, min(a + step, size)) for a in range(0, size, step)]


def _next_newline(fh: Any, pos: int, size: int) -> int:
    """Offset of the first ``\\n`` at or after ``pos`` (``size`` when there is none)."""
    while pos < size:
        fh.seek(pos)
        block = fh.read(min(_BLOCK, size - pos))
        if not block:
            break
        i: int = block.find(b"\n")
        if i >= 0:
            return pos + i
        pos += len(block)
    return size


def owned_bytes(location: str, start: int, end: int) -> bytes:
    """The lines that start in [start, end), with their newlines. Concatenating the ranges of
    :func:`byte_ranges` in order gives the file back, every line exactly once."""
    filesystem, path = _filesystem(location)
    with filesystem.open_input_file(path) as fh:
        size = fh.size()
        begin = 0 if start == 0 else _next_newline(fh, start - 1, size) + 1
        if begin >= end:
            return b""
        stop = min(_next_newline(fh, end - 1, size) + 1, size)
        fh.seek(begin)
        data: bytes = fh.read(stop - begin)
    return data
