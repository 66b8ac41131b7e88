"""The label records as a columnar snapshot: what ``datakit check`` leaves for ``package``.

``labels.jsonl`` is parsed into the release's label table (``label_table_schema``) by the
check, which reads every record anyway, and kept as ``.datakit/cache/labels.parquet``. The
file records the sha256 of the ``labels.jsonl`` it came from and the table schema; package
uses it only when both still match (the same sha256 the release gate compares), and parses
``labels.jsonl`` itself otherwise. The snapshot is a cache: deleting it changes nothing but
the time package takes, and the release is byte-identical either way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datakit.project import Project
from datakit.spec.model import ProjectSpec

from .shards import label_table_schema

SHA_KEY = b"datakit.labels_sha256"


def snapshot_path(project: Project) -> Path:
    return project.paths.state / "cache" / "labels.parquet"


def write_snapshot(project: Project, labels_sha256: str) -> bool:
    """Parse ``labels.jsonl`` and keep it as the snapshot (written to a temporary file and
    renamed, so a reader never sees half a file). False, with nothing written, when the
    records do not parse into the table: package then reports what is wrong itself."""
    from datakit.errors import DatakitError

    from .inputs import read_labels

    path = snapshot_path(project)
    try:
        table = read_labels(project.paths.labels, project.spec, project)
    except (DatakitError, ValueError, OSError, pa.ArrowException):
        # Records the check has just reported on (bad JSON, bad UTF-8, values of the wrong
        # type): no snapshot, and package names the problem if it is ever asked to release.
        path.unlink(missing_ok=True)
        return False
    meta = dict(table.schema.metadata or {})
    meta[SHA_KEY] = labels_sha256.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(
            table.replace_schema_metadata(meta), tmp, compression="lz4", row_group_size=1 << 20
        )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def read_snapshot(project: Project, spec: ProjectSpec, labels_sha256: str) -> pa.Table | None:
    """The snapshot's table when it was made from this ``labels.jsonl`` (same sha256) with
    this spec's label schema; None otherwise (missing, stale, other fields, unreadable)."""
    path = snapshot_path(project)
    if not path.is_file():
        return None
    try:
        pf = pq.ParquetFile(path)
        stored = pf.schema_arrow
        if (stored.metadata or {}).get(SHA_KEY) != labels_sha256.encode():
            return None
        schema = label_table_schema(spec)
        if not stored.remove_metadata().equals(schema):
            return None
        return pf.read().replace_schema_metadata(None)
    except (OSError, pa.ArrowException):  # a damaged cache is no cache
        return None
