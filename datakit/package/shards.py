"""Release columns and the streaming Parquet shard writer (Hugging Face layout).

Shards are ``data/<split>-NNNNN-of-NNNNN.parquet``. Rows arrive in batches in manifest
order; each split has at most one open writer and a buffer of less than one row group, so
memory stays bounded by the row-group size whatever the dataset size.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from datakit.errors import ReleaseError
from datakit.plan.artefacts import TASK_DATA_KEY
from datakit.spec.model import FieldDef, ProjectSpec

MediaMode = Literal["embed", "reference"]

SPAN = pa.struct(
    [
        pa.field("start", pa.int64()),
        pa.field("end", pa.int64()),
        pa.field("label", pa.string()),
        pa.field("text", pa.string()),
    ]
)
BOX = pa.struct(
    [
        pa.field("label", pa.string()),
        pa.field("x", pa.float64()),
        pa.field("y", pa.float64()),
        pa.field("width", pa.float64()),
        pa.field("height", pa.float64()),
        pa.field("rotation", pa.float64()),
    ]
)
MEDIA = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])

# Lineage columns added after the field dictionary's columns.
LINEAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("source_sha256", pa.string()),  # sha256 of the raw content as collected
    pa.field("source_name", pa.string()),  # the collection source
    pa.field("near_dup_cluster", pa.string()),  # near-duplicate cluster from collect
    pa.field("annotation_ids", pa.list_(pa.int64())),
    pa.field("n_annotators", pa.int32()),
    pa.field("agreement", pa.float64()),
    pa.field("label_method", pa.string()),  # single | majority | unanimous | adjudicated | …
)
LINEAGE_NAMES = tuple(f.name for f in LINEAGE_FIELDS)

_SCALAR: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.string(),  # ISO 8601 text, as in the label records
    "datetime": pa.string(),
    "class": pa.string(),
    "choice": pa.string(),
    "classes": pa.list_(pa.string()),
    "spans": pa.list_(SPAN),
    "boxes": pa.list_(BOX),
}


def field_type(f: FieldDef) -> pa.DataType:
    return _SCALAR[f.type]


def content_column(spec: ProjectSpec) -> str:
    """Name of the content column: ``text`` for text/tabular, else ``image``/``audio``/``video``."""
    return TASK_DATA_KEY[spec.data.type]


def is_media(spec: ProjectSpec) -> bool:
    return spec.data.type in ("image", "audio", "video")


def label_table_schema(spec: ProjectSpec) -> pa.Schema:
    """Schema for reading labels.jsonl: every field except the content (taken from the manifest)."""
    content = content_column(spec)
    return pa.schema([pa.field(f.name, field_type(f)) for f in spec.fields if f.name != content])


def release_schema(spec: ProjectSpec, media: MediaMode = "embed") -> pa.Schema:
    """Columns of every shard: field dictionary order (content in place), then lineage."""
    content = content_column(spec)
    if is_media(spec):
        content_type: pa.DataType = MEDIA if media == "embed" else pa.string()
    else:
        content_type = pa.string()
    cols: list[pa.Field] = []
    seen = set()
    for f in spec.fields:
        t = content_type if f.name == content else field_type(f)
        cols.append(pa.field(f.name, t, nullable=f.name != "id"))
        seen.add(f.name)
    if content not in seen:
        at = 1 if cols and cols[0].name == "id" else 0
        cols.insert(at, pa.field(content, content_type))
        seen.add(content)
    clash = seen.intersection(LINEAGE_NAMES)
    if clash:
        raise ReleaseError(
            f"field name(s) {', '.join(sorted(clash))} clash with the release's lineage columns",
            hint="rename the field in datakit.yaml (fields:) and run `datakit plan`",
        )
    cols.extend(LINEAGE_FIELDS)
    schema = pa.schema(cols)
    features = {
        f.name: hf_feature(f.type, spec, f.name == content and media == "embed") for f in cols
    }
    meta = {
        b"huggingface": json.dumps({"info": {"features": features}}, ensure_ascii=False).encode()
    }
    return schema.with_metadata(meta)


def hf_feature(t: pa.DataType, spec: ProjectSpec, is_content_media: bool) -> dict[str, Any]:
    """Hugging Face ``datasets`` feature JSON of an Arrow type (Image/Audio for embedded media)."""
    if is_content_media and is_media(spec):
        return (
            {"_type": "Audio" if spec.data.type == "audio" else "Image"}
            if spec.data.type
            in (
                "image",
                "audio",
            )
            else {"bytes": _value(pa.binary()), "path": _value(pa.string())}
        )
    if pa.types.is_list(t):
        return {"feature": hf_feature(t.value_type, spec, False), "_type": "List"}
    if pa.types.is_struct(t):
        return {
            t.field(i).name: hf_feature(t.field(i).type, spec, False) for i in range(t.num_fields)
        }
    return _value(t)


def _value(t: pa.DataType) -> dict[str, Any]:
    names = {
        pa.string(): "string",
        pa.large_string(): "large_string",
        pa.int64(): "int64",
        pa.int32(): "int32",
        pa.float64(): "float64",
        pa.bool_(): "bool",
        pa.binary(): "binary",
    }
    return {"dtype": names[t], "_type": "Value"}


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


# Columns unique per row: dictionary encoding only costs there.
UNIQUE_COLUMNS = frozenset(
    {"id", "source_sha256", "near_dup_cluster", "annotation_ids", "text", "image", "audio", "video"}
)
_MEDIA_BYTES = frozenset(f"{name}.bytes" for name in ("image", "audio", "video"))


def writer_options(schema: pa.Schema) -> dict[str, Any]:
    """The ``pq.ParquetWriter`` settings of every release shard, whichever engine writes it
    (the engines' shards are byte-identical): zstd, statistics, dictionary encoding for the
    repetitive columns only, and no compression for embedded media bytes (JPEG, PNG, MP3…
    are compressed already: zstd would spend time to gain nothing)."""
    return {
        "compression": {
            path: "none" if path in _MEDIA_BYTES else "zstd" for path in _leaf_paths(schema)
        },
        "write_statistics": True,
        "use_dictionary": [f.name for f in schema if f.name not in UNIQUE_COLUMNS],
    }


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """The Parquet leaf column paths of ``schema`` (``image.bytes``,
    ``annotation_ids.list.element``…), as the writer names them."""
    key = schema.remove_metadata().to_string()
    if key not in _LEAVES:
        sink = pa.BufferOutputStream()
        pq.write_table(schema.empty_table(), sink)
        parquet_schema = pq.ParquetFile(pa.BufferReader(sink.getvalue())).schema
        _LEAVES[key] = [parquet_schema.column(i).path for i in range(len(parquet_schema))]
    return _LEAVES[key]


_LEAVES: dict[str, list[str]] = {}


@dataclass
class _SplitWriter:
    split: str
    total: int
    rows_per_shard: int
    row_group_rows: int
    folder: Path
    schema: pa.Schema
    written: int = 0
    shard_rows: int = 0
    shard_index: int = 0
    writer: pq.ParquetWriter | None = None
    buffer: list[pa.RecordBatch] = field(default_factory=list)
    buffered: int = 0
    files: list[Path] = field(default_factory=list)

    @property
    def shard_count(self) -> int:
        return max(1, -(-self.total // self.rows_per_shard))

    def _open(self) -> pq.ParquetWriter:
        if self.writer is None:
            path = self.folder / shard_name(self.split, self.shard_index, self.shard_count)
            self.files.append(path)
            self.writer = pq.ParquetWriter(path, self.schema, **writer_options(self.schema))
        return self.writer

    def _flush(self, n: int) -> None:
        """Write the first ``n`` buffered rows as one row group."""
        table = pa.Table.from_batches(self.buffer, schema=self.schema)
        head, rest = table.slice(0, n), table.slice(n)
        self._open().write_table(head, row_group_size=n)
        self.written += n
        self.shard_rows += n
        self.buffer = rest.to_batches()
        self.buffered = rest.num_rows
        if self.shard_rows >= self.rows_per_shard:
            self._close_shard()

    def _close_shard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.shard_index += 1
        self.shard_rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.buffer.append(batch)
        self.buffered += batch.num_rows
        while True:
            room = min(self.row_group_rows, self.rows_per_shard - self.shard_rows)
            if self.buffered < room:
                break
            self._flush(room)

    def close(self) -> None:
        if self.buffered:
            self._flush(self.buffered)
        if self.writer is not None:
            self._close_shard()
        if not self.files:  # an empty split still gets one (empty) shard
            self._open()
            self._close_shard()


class ShardWriter:
    """Routes row batches to one writer per split; closes every shard at the end.

    With ``threaded`` (the default) the Parquet encoding and compression run on background
    threads fed through short queues, so they overlap with reading and joining the next
    batch (pyarrow releases the GIL while it writes). The first split (train, the largest)
    has a thread of its own and the others share a second one, so that the splits' files
    are written side by side. At most ``queue_batches`` batches wait per thread.
    """

    def __init__(
        self,
        folder: Path,
        schema: pa.Schema,
        split_sizes: dict[str, int],
        *,
        rows_per_shard: int,
        row_group_rows: int,
        progress: Callable[[int, int | None], None] | None = None,
        threaded: bool = True,
        queue_batches: int = 4,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.total = sum(split_sizes.values())
        self.done = 0
        self.progress = progress
        self.writers = {
            s: _SplitWriter(s, n, rows_per_shard, row_group_rows, folder, schema)
            for s, n in split_sizes.items()
        }
        self._error: BaseException | None = None
        self._queues: list[queue.Queue[tuple[str, pa.RecordBatch] | None]] = []
        self._threads: list[threading.Thread] = []
        self._lane: dict[str, int] = {}
        if threaded:
            lanes = min(2, len(self.writers))
            self._lane = {s: min(i, lanes - 1) for i, s in enumerate(self.writers)}
            for i in range(lanes):
                q: queue.Queue[tuple[str, pa.RecordBatch] | None] = queue.Queue(queue_batches)
                t = threading.Thread(target=self._drain, args=(q,), name=f"shard-writer-{i}")
                t.daemon = True
                t.start()
                self._queues.append(q)
                self._threads.append(t)

    def _drain(self, jobs: queue.Queue[tuple[str, pa.RecordBatch] | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            if self._error is None:
                try:
                    self.writers[job[0]].add(job[1])
                except BaseException as exc:  # handed to the caller in add()/close()
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def add(self, split: str, batch: pa.RecordBatch) -> None:
        self._raise()
        if self._queues:
            self._queues[self._lane[split]].put((split, batch))
        else:
            self.writers[split].add(batch)
        self.done += batch.num_rows
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _stop(self) -> None:
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join()
        self._queues, self._threads = [], []

    def abort(self) -> None:
        """Stop the background threads and close open files (after an error elsewhere)."""
        self._stop()
        for w in self.writers.values():
            if w.writer is not None:
                w.writer.close()
                w.writer = None

    def close(self) -> dict[str, list[Path]]:
        self._stop()
        self._raise()
        for w in self.writers.values():
            w.close()
            if w.written != w.total:  # pragma: no cover - guards the routing logic
                raise ReleaseError(f"split {w.split}: wrote {w.written} rows, expected {w.total}")
        return {s: w.files for s, w in self.writers.items()}
