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
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from datakit.errors import ReleaseError
from datakit.label_table import field_type
from datakit.labels import content_column
from datakit.spec.model import ProjectSpec

MediaMode = Literal["embed", "reference"]

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


def is_media(spec: ProjectSpec) -> bool:
    return spec.data.type in ("image", "audio", "video")


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
        f.name: with_class_labels(
            hf_feature(f.type, spec, f.name == content and media == "embed"), spec, f.name
        )
        for f in cols
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


def label_names(spec: ProjectSpec, name: str) -> tuple[str, ...] | None:
    """The ordered names of a categorical field (the task's classes for class, classes,
    spans and boxes; the declared values for choice), else None."""
    f = next((x for x in spec.fields if x.name == name), None)
    if f is None:
        return None
    if f.type in ("class", "classes", "spans", "boxes"):
        return tuple(spec.task.class_names) or None
    if f.type == "choice" and f.values:
        return tuple(f.values)
    return None


def with_class_labels(feature: dict[str, Any], spec: ProjectSpec, name: str) -> dict[str, Any]:
    """``feature`` with its categorical strings declared as ``ClassLabel`` (names in the spec's
    order). The Arrow column keeps the strings; ``datasets`` encodes them when it is given these
    features (the dataset card, or ``features=``), since its Parquet reader only takes metadata
    features whose Arrow type matches the column exactly."""
    names = label_names(spec, name)
    if names is None:
        return feature
    label = {"names": list(names), "_type": "ClassLabel"}
    kind = spec.field(name).type
    if kind in ("class", "choice"):
        return label
    if kind == "classes":
        return {**feature, "feature": label}
    return {**feature, "feature": {**feature["feature"], "label": label}}  # spans, boxes


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


class ShardFile:
    """One release shard being written, by either engine. Its bytes depend only on its rows,
    never on how they arrive: rows are buffered and written as row groups of exactly
    ``row_group_rows`` (the last one shorter), each from one contiguous record batch.
    pyarrow ends a data page wherever an input chunk ends, so writing the batches as they
    came would put the page boundaries, and the checksums, where the input was cut.

    The file is written under ``path + staging`` and renamed to ``path`` on ``close``;
    ``filesystem`` is a ``pyarrow.fs`` filesystem (default: the local one)."""

    def __init__(
        self,
        path: str | Path,
        schema: pa.Schema,
        row_group_rows: int,
        *,
        filesystem: Any = None,
        staging: str = ".tmp",
    ) -> None:
        import pyarrow.fs as pafs

        self.path = str(path)
        self.tmp = self.path + staging
        self.fs = filesystem if filesystem is not None else pafs.LocalFileSystem()
        self.schema = schema
        self.row_group_rows = max(1, row_group_rows)
        self.rows = 0  # rows added (written or buffered)
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self.tmp, schema, filesystem=self.fs, **writer_options(schema)
        )

    def add(self, rows: pa.RecordBatch | pa.Table) -> None:
        batches = rows.to_batches() if isinstance(rows, pa.Table) else [rows]
        for batch in batches:
            if batch.num_rows:
                self._buffer.append(batch)
                self._buffered += batch.num_rows
                self.rows += batch.num_rows
        while self._buffered >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def _flush(self, n: int) -> None:
        """Write the first ``n`` buffered rows as one row group, from one contiguous batch."""
        assert self._writer is not None
        buffer = self._buffer
        whole = buffer[0] if len(buffer) == 1 else pa.concat_batches(buffer)
        self._writer.write_batch(whole.slice(0, n), row_group_size=n)
        rest = whole.slice(n)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered -= n

    def close(self) -> int:
        """Write what is buffered, close, rename into place; returns the file's size."""
        if self._buffered:
            self._flush(self._buffered)
        assert self._writer is not None
        self._writer.close()
        self._writer = None
        self.fs.move(self.tmp, self.path)
        return int(self.fs.get_file_info(self.path).size)

    def abort(self) -> None:
        """Close and remove the partial file (after an error elsewhere)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        with suppress(FileNotFoundError):
            self.fs.delete_file(self.tmp)


class _SplitWriter:
    """The shards of one split, filled in order: ``rows_per_shard`` rows each."""

    def __init__(
        self,
        split: str,
        total: int,
        rows_per_shard: int,
        row_group_rows: int,
        folder: Path,
        schema: pa.Schema,
    ) -> None:
        self.split, self.total, self.folder, self.schema = split, total, folder, schema
        self.rows_per_shard, self.row_group_rows = rows_per_shard, row_group_rows
        self.written = 0
        self.shard: ShardFile | None = None
        self.files: list[Path] = []

    @property
    def shard_count(self) -> int:
        return max(1, -(-self.total // self.rows_per_shard))

    def _open(self) -> ShardFile:
        if self.shard is None:
            path = self.folder / shard_name(self.split, len(self.files), self.shard_count)
            self.files.append(path)
            self.shard = ShardFile(path, self.schema, min(self.row_group_rows, self.rows_per_shard))
        return self.shard

    def _close_shard(self) -> None:
        if self.shard is not None:
            self.shard.close()
            self.shard = None

    def add(self, batch: pa.RecordBatch) -> None:
        while batch.num_rows:
            shard = self._open()
            room = self.rows_per_shard - shard.rows
            shard.add(batch.slice(0, room))
            self.written += min(room, batch.num_rows)
            batch = batch.slice(room)
            if shard.rows >= self.rows_per_shard:
                self._close_shard()

    def close(self) -> None:
        if not self.files:  # an empty split still gets one (empty) shard
            self._open()
        self._close_shard()

    def abort(self) -> None:
        if self.shard is not None:
            self.shard.abort()
            self.shard = None


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
            w.abort()

    def close(self) -> dict[str, list[Path]]:
        self._stop()
        self._raise()
        for w in self.writers.values():
            w.close()
            if w.written != w.total:  # pragma: no cover - guards the routing logic
                raise ReleaseError(f"split {w.split}: wrote {w.written} rows, expected {w.total}")
        return {s: w.files for s, w in self.writers.items()}
