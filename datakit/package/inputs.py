"""Loading what a release is made of: the manifest (narrow columns), the final label records
and the consensus lineage, joined by item id. Content (text, media) is *not* loaded here;
the shard writer streams it from the manifest batch by batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from datakit.errors import InputError
from datakit.project import Project
from datakit.spec.model import ProjectSpec
from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA

from .shards import LINEAGE_FIELDS, content_column, label_table_schema

# Manifest columns kept in memory (not the content; only what splits, lineage and figures use).
NARROW = (
    "id",
    "sha256",
    "size",
    "source",
    "group",
    "near_dup_cluster",
    "status",
    "collected_at",
    "collection_date",
    "pii",
)


@dataclass
class ReleaseInputs:
    """The items that go into a release, in manifest order, without their content."""

    items: pa.Table  # id, label-record fields, lineage columns, plus _group/_stratum/_pos
    positions: npt.NDArray[np.int64]  # manifest row index of each item (ascending)
    manifest_rows: int
    skipped: dict[str, int] = field(default_factory=dict)
    collection_dates: tuple[str | None, str | None] = (None, None)
    latest_collected_at: str | None = None


def _read_labels(path: Path, spec: ProjectSpec, project: Project) -> pa.Table:
    schema = label_table_schema(spec)
    try:
        table = pj.read_json(
            path,
            read_options=pj.ReadOptions(block_size=1 << 20),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        _locate_bad_label(path, spec, project, str(exc))
        raise InputError(  # the slow scan found nothing more precise
            f"cannot read label records: {exc}", file=project.paths.rel(path)
        ) from exc
    return table.select(schema.names).cast(schema)


def _locate_bad_label(path: Path, spec: ProjectSpec, project: Project, reason: str) -> None:
    """Find the first record whose value does not fit its field's type; raise naming it."""
    from .shards import field_type

    types = {f.name: field_type(f) for f in spec.fields}
    content = content_column(spec)
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
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


def load_inputs(project: Project, spec: ProjectSpec) -> ReleaseInputs:
    paths = project.paths
    project.require(paths.manifest, produced_by="datakit collect")
    project.require(paths.labels, produced_by="datakit annotate pull")
    pf = pq.ParquetFile(paths.manifest)
    have = set(pf.schema_arrow.names)
    missing = [c for c in ("id", "sha256", "status", "source") if c not in have]
    if missing:
        raise InputError(
            f"manifest lacks column(s) {', '.join(missing)}",
            file=paths.rel(paths.manifest),
            hint="rerun `datakit collect` with this datakit version",
        )
    manifest, facts = _read_manifest(pf, have)
    labels = _read_labels(paths.labels, spec, project)
    ids = labels.column("id")
    if pc.any(pc.is_null(ids)).as_py():
        raise InputError("a label record has no id", file=paths.rel(paths.labels), field="id")
    if pc.count_distinct(ids).as_py() != labels.num_rows:
        vc = pc.value_counts(ids)
        dup = next(v["values"] for v in vc.to_pylist() if v["counts"] > 1)
        raise InputError(
            "the item has more than one final label record",
            file=paths.rel(paths.labels),
            item=str(dup),
            field="id",
            hint="labels.jsonl holds one record per item; rerun `datakit annotate pull`",
        )
    label_idx = _positions_of(manifest.column("id"), ids)
    ok_np = facts["ok"]
    labelled = _bools(pc.is_valid(label_idx))
    positions = np.flatnonzero(ok_np & labelled)
    # When every item is released (the usual case) no copy is needed.
    all_rows = len(positions) == manifest.num_rows
    m = manifest if all_rows else manifest.take(pa.array(positions))
    lab_idx = (
        pc.take(label_idx, pa.array(positions)) if len(positions) != len(label_idx) else label_idx
    )
    lab = labels if _is_identity(lab_idx, labels.num_rows) else labels.take(lab_idx)

    n_ok = int(ok_np.sum())
    skipped = {
        "not_ok": manifest.num_rows - n_ok,  # duplicates and quarantined items
        "unlabelled": n_ok - len(positions),
        # label records whose item is not in the manifest or not ok (ids are unique)
        "labels_not_released": labels.num_rows - len(positions),
    }

    # Item table: label-record fields in field order, lineage, helpers.
    columns: dict[str, Any] = {name: lab.column(name) for name in lab.column_names}
    columns["id"] = m.column("id")
    columns["source_sha256"] = m.column("sha256")
    columns["source_name"] = m.column("source")
    columns["near_dup_cluster"] = m.column("near_dup_cluster")
    lineage = _lineage(project, m.column("id"))
    for f in LINEAGE_FIELDS:
        if f.name in lineage:
            columns[f.name] = lineage[f.name]
    group_field = spec.splits.group
    group = m.column("group")
    if group_field and group_field in lab.column_names:
        group = pc.coalesce(group, lab.column(group_field).cast(pa.string()))
    columns["_group"] = group
    columns["_stratum"] = _stratum(spec, lab)
    columns["_pos"] = pa.array(positions, pa.int64())
    columns["_size"] = m.column("size")
    skipped["_pii_items"] = int(facts["has_pii"][positions].sum())
    # One chunk per column: the shard writer slices this table once per manifest batch, and
    # slicing costs O(chunks) (labels.jsonl arrives in many small blocks).
    items = pa.table(columns).combine_chunks()
    return ReleaseInputs(
        items=items,
        positions=positions,
        manifest_rows=manifest.num_rows,
        skipped=skipped,
        collection_dates=(facts["first_date"], facts["last_date"]),
        latest_collected_at=facts["last_collected"],
    )


def _bools(values: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """A boolean Arrow array as numpy, without Python-level iteration."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _read_manifest(pf: pq.ParquetFile, have: set[str]) -> tuple[pa.Table, dict[str, Any]]:
    """The manifest columns kept in memory, read batch by batch; status, dates and PII
    findings are reduced on the way (a flag per row, or a min/max) instead of kept."""
    keep_cols = ("id", "sha256", "size", "source", "group", "near_dup_cluster")
    cols = [c for c in NARROW if c in have]
    parts: list[pa.Table] = []
    ok: list[np.ndarray[Any, Any]] = []
    has_pii: list[np.ndarray[Any, Any]] = []
    dates: list[str] = []
    collected: list[str] = []
    for batch in pf.iter_batches(batch_size=262_144, columns=cols):
        t = pa.Table.from_batches([batch])
        for name in NARROW:
            if name not in t.column_names:
                t = t.append_column(name, pa.nulls(t.num_rows, MANIFEST_SCHEMA.field(name).type))
        ok.append(_bools(pc.fill_null(pc.equal(t["status"], "ok"), False)))
        pii = pc.fill_null(t["pii"], "{}")
        found = pc.invert(pc.is_in(pii, value_set=pa.array(["{}", ""], pa.string())))
        has_pii.append(_bools(found))
        for col, acc in (("collection_date", dates), ("collected_at", collected)):
            values = t[col].drop_null()
            if len(values):
                acc += [pc.min(values).as_py(), pc.max(values).as_py()]
        parts.append(t.select(keep_cols))
    if parts:
        table = pa.concat_tables(parts).combine_chunks()
    else:
        table = pa.schema([MANIFEST_SCHEMA.field(c) for c in keep_cols]).empty_table()
    facts = {
        "ok": np.concatenate(ok) if ok else np.zeros(0, bool),
        "has_pii": np.concatenate(has_pii) if has_pii else np.zeros(0, bool),
        "first_date": min(dates) if dates else None,
        "last_date": max(dates) if dates else None,
        "last_collected": max(collected) if collected else None,
    }
    return table, facts


def _positions_of(keys: pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Index of each key in ``values`` (null when absent). Tables written by the stages are
    usually in the same order, which needs no hash lookup."""
    if len(keys) == len(values) and len(keys) and pc.all(pc.equal(keys, values)).as_py():
        return pa.array(np.arange(len(keys), dtype=np.int64))
    return pc.index_in(keys, value_set=values)


def _is_identity(idx: pa.Array | pa.ChunkedArray, n: int) -> bool:
    if len(idx) != n or idx.null_count:
        return False
    arr = np.asarray(
        idx.to_numpy(zero_copy_only=False)
        if isinstance(idx, pa.Array)
        else pc.cast(idx, pa.int64()).to_numpy()
    )
    return bool(np.array_equal(arr, np.arange(n)))


def _stratum(spec: ProjectSpec, lab: pa.Table) -> pa.ChunkedArray | pa.Array:
    key = spec.stratify_key
    if key is None or key not in lab.column_names:
        return pa.nulls(lab.num_rows, pa.string())
    col = lab.column(key)
    if pa.types.is_list(col.type):
        if not pa.types.is_string(col.type.value_type):
            return pa.nulls(lab.num_rows, pa.string())
        return pc.binary_join(col, "|")
    return col.cast(pa.string())


def _lineage(project: Project, ids: pa.ChunkedArray) -> dict[str, Any]:
    """Lineage columns from annotations/consensus.parquet (nulls when it does not exist)."""
    path = project.paths.annotations / "consensus.parquet"
    n = len(ids)
    if not path.is_file():
        return {}
    cons = pq.read_table(
        path, columns=["item_id", "method", "n_annotators", "annotation_ids", "agreement"]
    )
    cons = cons.cast(pa.schema([CONSENSUS_SCHEMA.field(c) for c in cons.column_names]))
    idx = _positions_of(ids, cons.column("item_id"))
    if n == 0:
        return {}
    return {
        "annotation_ids": pc.take(cons.column("annotation_ids"), idx),
        "n_annotators": pc.take(cons.column("n_annotators"), idx),
        "agreement": pc.take(cons.column("agreement"), idx),
        "label_method": pc.take(cons.column("method"), idx),
    }
