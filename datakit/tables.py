"""The tables that pass between stages, defined once.

* ``data/manifest.parquet`` — one row per collected item (collect → everyone).
  Columns and types: :data:`MANIFEST_SCHEMA`; documented in ``specs/manifest.schema.json``.
* ``annotations/labels.jsonl`` — the final label record per item, one JSON object per line,
  valid against ``labeling/label.schema.json`` (annotate → check, package).
* ``annotations/consensus.parquet`` — how each final label was obtained:
  :data:`CONSENSUS_SCHEMA` (annotate → check, package, trace).
* ``annotations/annotations.parquet`` — one row per annotation: :data:`ANNOTATIONS_SCHEMA`.

pyarrow is imported here, so only stage code imports this module (never the CLI at start-up).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datakit.io import atomic_open, atomic_path

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # stable item id
        pa.field("source_path", pa.string(), nullable=False),  # NFC; "file.csv#row=12" for records
        pa.field("stored_path", pa.string()),  # project-relative 원천데이터 file, null for records
        pa.field("text", pa.string()),  # de-identified text content (text/tabular items)
        pa.field("sha256", pa.string(), nullable=False),  # of the raw content as collected
        pa.field("size", pa.int64(), nullable=False),  # bytes of the raw content
        pa.field("media_type", pa.string(), nullable=False),  # sniffed from content
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("mode", pa.string()),  # PIL mode, e.g. RGB
        pa.field("sample_rate", pa.int32()),
        pa.field("channels", pa.int16()),
        pa.field("duration", pa.float64()),  # seconds
        pa.field("text_length", pa.int32()),  # characters
        pa.field("encoding", pa.string()),
        pa.field("source", pa.string(), nullable=False),  # source name
        pa.field("license", pa.string()),
        pa.field("consent", pa.string()),  # yes | no | not_required | unknown
        pa.field("collection_date", pa.string()),  # YYYY-MM-DD, from the source's metadata
        pa.field("collected_at", pa.string(), nullable=False),  # ISO 8601 UTC, when datakit took it
        pa.field("status", pa.string(), nullable=False),  # ok | duplicate | quarantined
        # why not ok, machine code first: "image.too_small: 100x80 < 224x224"
        pa.field("reason", pa.string()),
        pa.field("duplicate_of", pa.string()),  # id of the kept item (exact duplicates)
        pa.field("near_dup_cluster", pa.string()),  # cluster id of near-duplicates, else null
        pa.field("group", pa.string()),  # value of the spec's group key (speaker, document, …)
        pa.field("intake_label", pa.string()),  # class known at intake (folder name / column)
        pa.field("attributes", pa.string()),  # JSON object of extra attributes (region, gender…)
        pa.field("pii", pa.string()),  # JSON object {kind: count} found in content and names
        pa.field("pii_action", pa.string()),  # flag | mask | drop, when pii was found
    ]
)
MANIFEST_STATUSES = ("ok", "duplicate", "quarantined")

ANNOTATIONS_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("task_id", pa.int64(), nullable=False),
        pa.field("annotation_id", pa.int64(), nullable=False),
        pa.field("annotator", pa.string()),  # e-mail or id of the Label Studio user
        pa.field("created_at", pa.string()),
        pa.field("updated_at", pa.string()),
        pa.field("lead_time", pa.float64()),  # seconds
        pa.field("was_cancelled", pa.bool_()),  # skipped
        pa.field("ground_truth", pa.bool_()),
        pa.field("result", pa.string()),  # JSON: the label fields normalised to the spec
        pa.field("origin", pa.string()),  # label_studio | import | prediction
    ]
)

CONSENSUS_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        # single | majority | unanimous | adjudicated | matched_boxes | best_annotator | imported
        pa.field("method", pa.string(), nullable=False),
        pa.field("n_annotators", pa.int32(), nullable=False),
        pa.field("annotation_ids", pa.list_(pa.int64())),
        pa.field("annotators", pa.list_(pa.string())),
        pa.field("agreement", pa.float64()),  # per-item agreement, null for single annotations
        pa.field("decided_by", pa.string()),  # reviewer for adjudicated labels
        pa.field("needs_review", pa.bool_(), nullable=False),
    ]
)


def write_table(table: pa.Table, path: str | Path, **kwargs: Any) -> None:
    """Atomically write a Parquet file (zstd)."""
    kwargs.setdefault("compression", "zstd")
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, **kwargs)


def read_table(path: str | Path, schema: pa.Schema | None = None) -> pa.Table:
    table = pq.read_table(path)
    if schema is not None:
        table = table.select(schema.names).cast(schema)
    return table


def read_manifest(path: str | Path) -> pa.Table:
    return read_table(path, MANIFEST_SCHEMA)


def iter_label_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each line of a labels.jsonl file. Raises on bad JSON."""
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, json.loads(line)


def write_label_records(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Atomically write label records as JSON lines (UTF-8, keys in field order). Returns count."""
    n = 0
    with atomic_open(path, "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n
