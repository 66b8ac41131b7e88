"""The label table: the label records as typed Arrow columns, and the columnar snapshot of
``labels.jsonl`` that ``datakit check`` leaves for ``datakit package``.

Each field type of the field dictionary has one Arrow type (:data:`FIELD_TYPES`). The label
table (:func:`label_table_schema`, read by :func:`read_labels`) is every field except the
content, which comes from the manifest; a record that does not fit is named by
:func:`locate_bad_label` (file, line, item, field).

The snapshot: ``labels.jsonl`` is parsed into the label table by the check, which reads every
record anyway, and kept as ``.datakit/cache/labels.parquet``. The file records the sha256 of
the ``labels.jsonl`` it came from and the table schema; package uses it only when both still
match (the same sha256 the release gate compares), and parses ``labels.jsonl`` itself
otherwise. The snapshot is a cache: deleting it changes nothing but the time package takes,
and the release is byte-identical either way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from datakit.errors import DatakitError, InputError
from datakit.labels import content_column
from datakit.project import Project
from datakit.spec.model import FieldDef, ProjectSpec

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

# The Arrow type of each field type of the field dictionary.
FIELD_TYPES: dict[str, pa.DataType] = {
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
    return FIELD_TYPES[f.type]


def label_table_schema(spec: ProjectSpec) -> pa.Schema:
    """Schema for reading labels.jsonl: every field except the content (taken from the manifest)."""
    content = content_column(spec)
    return pa.schema([pa.field(f.name, field_type(f)) for f in spec.fields if f.name != content])


def read_labels(path: Path, spec: ProjectSpec, project: Project) -> pa.Table:
    """``labels.jsonl`` parsed into the label table; a record that does not fit is named
    (file, line, item, field)."""
    schema = label_table_schema(spec)
    try:
        table = pj.read_json(
            path,
            read_options=pj.ReadOptions(block_size=1 << 20),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
        # pyarrow's JSON reader passes invalid UTF-8 inside strings through; full validation
        # catches it, so that no such string reaches a release.
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        locate_bad_label(path, spec, project, str(exc))
        raise InputError(  # the slow scan found nothing more precise
            f"cannot read label records: {exc}", file=project.paths.rel(path)
        ) from exc
    return table.select(schema.names).cast(schema)


def locate_bad_label(path: Path, spec: ProjectSpec, project: Project, reason: str) -> None:
    """Find the first record whose value does not fit its field's type; raise naming it.
    Returns when every record fits (``reason`` is then the reader's own message)."""
    types = {f.name: field_type(f) for f in spec.fields}
    content = content_column(spec)
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"line {n} is not UTF-8 (byte {exc.start + 1})",
                    file=project.paths.rel(path),
                    hint="labels.jsonl is UTF-8; `datakit check` lists every such line",
                ) from exc
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"line {n} is not JSON ({exc.msg})", file=project.paths.rel(path)
                ) from exc
            item = str(rec.get("id", f"line {n}"))
            for name, t in types.items():
                if name == content or rec.get(name) is None:
                    continue
                try:
                    pa.array([rec[name]], t)
                except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                    raise InputError(
                        f"value {json.dumps(rec[name], ensure_ascii=False)[:80]} does not fit "
                        f"the field's type {spec.field(name).type} ({exc})",
                        file=project.paths.rel(path),
                        item=item,
                        field=name,
                        hint="fix the label record (or the field dictionary) and rerun "
                        "`datakit check`",
                    ) from exc


# -- the snapshot ------------------------------------------------------------------------

SHA_KEY = b"datakit.labels_sha256"


def snapshot_path(project: Project) -> Path:
    return project.paths.state / "cache" / "labels.parquet"


def write_snapshot(project: Project, labels_sha256: str) -> bool:
    """Parse ``labels.jsonl`` and keep it as the snapshot (written to a temporary file and
    renamed, so a reader never sees half a file). False, with nothing written, when the
    records do not parse into the table: package then reports what is wrong itself."""
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
        if not stored.remove_metadata().equals(label_table_schema(spec)):
            return None
        return pf.read().replace_schema_metadata(None)
    except (OSError, pa.ArrowException):  # a damaged cache is no cache
        return None
