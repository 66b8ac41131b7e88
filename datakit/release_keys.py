"""Pass one of a release: the manifest (narrow columns), the final label records and the
consensus lineage, joined by item id and reduced to the keys the split rules need.

Core, not package's: ``datakit check`` measures validity on the very splits ``datakit
package`` will write, so both compute them from :func:`load_keys` and
:meth:`ReleaseKeys.assign`. Content (text, media) is *not* loaded here; the shard writer
streams it from the manifest batch by batch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datakit.errors import InputError
from datakit.io import file_sha256
from datakit.label_table import read_labels, read_snapshot
from datakit.project import Project
from datakit.spec.model import ProjectSpec
from datakit.splits import (
    Assignment,
    assign_split_indices,
    hex64_prefix_rows,
    stable_hash64,
    stratum_ranks,
)
from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA

# Manifest columns read in the first pass (keys and facts; content stays on disk).
NARROW = (
    "id",
    "sha256",
    "size",
    "group",
    "near_dup_cluster",
    "status",
    "collected_at",
    "collection_date",
    "pii",
)
SCAN_BATCH_ROWS = 262_144
# Salts that keep the hashes of different key columns apart.
_GROUP_SALT = 0x67726F7570  # "group"
_CLUSTER_SALT = 0x636C7573  # "clus"
_SHA_SALT = 0x736861  # "sha"


@dataclass
class ReleaseKeys:
    """Pass one of a local release: for every released item (manifest order) the fixed-width
    keys the split rules need, the rows of its label record and lineage, and the facts the
    documents report. Content, hashes, ids and source names stay on disk until pass two."""

    positions: npt.NDArray[np.int64]  # manifest row of each released item (ascending)
    labels: pa.Table  # label records as parsed (label_table_schema), all rows
    label_rows: npt.NDArray[np.int64] | None  # labels row per item (None: same as positions)
    lineage: pa.Table | None  # consensus columns per released item (null row: none)
    item_hash: npt.NDArray[np.uint64]  # stable_hash64(id, seed)
    keys: list[tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]]  # sha256, group, cluster
    stratum: npt.NDArray[np.int64] | None
    mean_size: float
    manifest_rows: int
    skipped: dict[str, int] = field(default_factory=dict)
    pii_items: int = 0
    pii_flags: npt.NDArray[np.bool_] | None = None  # per released item: PII was found
    collection_dates: tuple[str | None, str | None] = (None, None)
    latest_collected_at: str | None = None

    @property
    def count(self) -> int:
        return len(self.positions)

    def assign(self, spec: ProjectSpec) -> Assignment:
        """The split of every item, by the spec's split rules: what ``package`` releases and
        what the validity check trains and tests on."""
        return assign_split_indices(
            self.item_hash,
            self.keys,
            self.stratum,
            spec.splits.ratios,
            cross_group=spec.splits.cross_group_near_duplicates,
        )

    def drop(self, mask: npt.NDArray[np.bool_]) -> None:
        """Leave the items where ``mask`` is set out of the release (pass one's keys must
        be consumed already: only what pass two and the figures need is kept in step)."""
        keep = ~mask
        rows = self.positions if self.label_rows is None else self.label_rows
        self.label_rows = rows[keep]
        self.positions = self.positions[keep]
        if self.lineage is not None:
            self.lineage = self.lineage.filter(pa.array(keep))
        if self.pii_flags is not None:
            self.pii_flags = self.pii_flags[keep]
            self.pii_items = int(self.pii_flags.sum())


def _hash_keys(values: pa.Array | pa.ChunkedArray, salt: int) -> tuple[Any, Any]:
    """(uint64 hash, valid mask) of a string key column; nulls are not keys."""
    valid = _bools(pc.is_valid(values))
    return stable_hash64(values.cast(pa.string()), salt), valid


def _sha_keys(values: pa.Array | pa.ChunkedArray) -> tuple[Any, Any]:
    """(key, valid) per row of the sha256 column, decided per value, never per batch: a digest
    is keyed by its first 64 bits, anything else by a salted hash of the whole string, so
    equal values get equal keys wherever they sit in the manifest."""
    prefix, ok = hex64_prefix_rows(values)
    if len(ok) and ok.all():
        return prefix, ok
    hashed, valid = _hash_keys(values, _SHA_SALT)
    return np.where(ok, prefix, hashed), valid


def require_manifest_columns(project: Project, have: set[str]) -> None:
    """The manifest columns every release needs, named when missing (both engines)."""
    missing = [c for c in ("id", "sha256", "status", "source") if c not in have]
    if missing:
        raise InputError(
            f"manifest lacks column(s) {', '.join(missing)}",
            file=project.paths.rel(project.paths.manifest),
            hint="rerun `datakit collect` with this datakit version",
        )


def load_keys(project: Project, spec: ProjectSpec) -> ReleaseKeys:
    """Pass one: read the manifest's narrow columns batch by batch, parse the label records,
    pair them by id and reduce everything the split rules need to fixed-width arrays."""
    paths = project.paths
    project.require(paths.manifest, produced_by="datakit collect")
    project.require(paths.labels, produced_by="datakit annotate pull")
    pf = pq.ParquetFile(paths.manifest)
    have = set(pf.schema_arrow.names)
    require_manifest_columns(project, have)

    def labels_table() -> pa.Table:
        table = read_snapshot(project, spec, file_sha256(paths.labels))
        if table is None:  # no snapshot from `datakit check`, or not of these records
            table = read_labels(paths.labels, spec, project)
        return table

    # The label records and the consensus table are read on a thread while the manifest is
    # scanned: both are mostly Arrow work outside the GIL.
    with ThreadPoolExecutor(1, thread_name_prefix="package-inputs") as pool:
        labels_future = pool.submit(labels_table)
        consensus_future = pool.submit(_read_consensus, project)
        try:
            scan = _scan_manifest(pf, have)
        except BaseException:
            consensus_future.cancel()
            raise
        labels = labels_future.result()
        consensus = consensus_future.result()
    release_memory()  # return the decoders' buffers before the next peak
    ids = labels.column("id")
    if pc.any(pc.is_null(ids)).as_py():
        raise InputError("a label record has no id", file=paths.rel(paths.labels), field="id")
    if not _distinct(ids):
        vc = pc.value_counts(ids)
        dup = next(v["values"] for v in vc.to_pylist() if v["counts"] > 1)
        raise InputError(
            "the item has more than one final label record",
            file=paths.rel(paths.labels),
            item=str(dup),
            field="id",
            hint="labels.jsonl holds one record per item; rerun `datakit annotate pull`",
        )
    manifest_ids = scan["id"]
    label_idx = _positions_of(manifest_ids, ids)
    labelled = _bools(pc.is_valid(label_idx))
    ok = scan["ok"]
    positions = np.flatnonzero(ok & labelled)
    n_rows = len(manifest_ids)
    lab_rows = np.asarray(
        pc.take(label_idx, pa.array(positions)).to_numpy(zero_copy_only=False)
        if len(positions) != n_rows
        else pc.cast(label_idx, pa.int64()).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    identity = bool(np.array_equal(lab_rows, positions))
    released_ids = manifest_ids.take(pa.array(positions))
    del manifest_ids, label_idx

    n_ok = int(ok.sum())
    skipped = {
        "not_ok": n_rows - n_ok,  # duplicates and quarantined items
        "unlabelled": n_ok - len(positions),
        # label records whose item is not in the manifest or not ok (ids are unique)
        "labels_not_released": labels.num_rows - len(positions),
    }

    def label_column(name: str) -> pa.Array | pa.ChunkedArray:
        col = labels.column(name)
        return col if identity and len(positions) == labels.num_rows else col.take(lab_rows)

    keys: list[tuple[Any, Any]] = []
    sha, sha_ok = scan["sha256"]
    keys.append((sha[positions], sha_ok[positions]))
    group, group_ok = scan["group"]
    group, group_ok = group[positions], group_ok[positions]
    group_field = spec.splits.group
    if group_field and group_field in labels.column_names:
        lg, lg_ok = _hash_keys(label_column(group_field), _GROUP_SALT)
        use = ~group_ok & lg_ok
        group = np.where(use, lg, group)
        group_ok = group_ok | lg_ok
    keys.append((group, group_ok))
    cluster, cluster_ok = scan["near_dup_cluster"]
    keys.append((cluster[positions], cluster_ok[positions]))

    key = spec.stratify_key
    stratum = None
    if key is not None and key in labels.column_names:
        stratum = stratum_ranks(stratum_values(spec, pa.table({key: label_column(key)})))

    sizes = scan["size"][positions]
    pii_flags = scan["has_pii"][positions]
    facts = {
        "pii_items": int(pii_flags.sum()),
        "pii_flags": pii_flags,
        "collection_dates": (scan["first_date"], scan["last_date"]),
        "latest_collected_at": scan["last_collected"],
    }
    del scan  # the whole-manifest arrays: only the released items' keys are kept
    release_memory()
    lineage = _lineage_table(consensus, released_ids)
    del consensus
    release_memory()
    return ReleaseKeys(
        positions=positions,
        labels=labels,
        label_rows=None if identity else lab_rows,
        lineage=lineage,
        item_hash=stable_hash64(released_ids, spec.splits.seed),
        keys=keys,
        stratum=stratum,
        mean_size=float(sizes.mean()) if len(sizes) else 1.0,
        manifest_rows=n_rows,
        skipped=skipped,
        **facts,
    )


def _distinct(values: pa.ChunkedArray) -> bool:
    """Whether the (non-null) strings are all different: their 64-bit hashes sorted first,
    and only when two hashes meet, the exact (slower) count."""
    h = np.sort(stable_hash64(values, 0))
    if not (h[1:] == h[:-1]).any():
        return True
    return bool(pc.count_distinct(values).as_py() == len(values))


def release_memory() -> None:
    """Hand freed memory back to the system between the passes: Arrow's pool keeps freed
    blocks, and glibc keeps freed heap pages (numpy temporaries) until trimmed. Without this
    the next pass's peak stacks on top of the last one's garbage."""
    pa.default_memory_pool().release_unused()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _scan_manifest(pf: pq.ParquetFile, have: set[str]) -> dict[str, Any]:
    """The manifest's narrow columns batch by batch, reduced on the way: ids kept (for
    pairing), keys hashed to uint64, status and PII to flags, dates to a min/max."""
    cols = [c for c in NARROW if c in have]
    ids: list[pa.Array] = []
    flags: dict[str, list[Any]] = {k: [] for k in ("ok", "has_pii", "size")}
    key_parts: dict[str, list[tuple[Any, Any]]] = {
        k: [] for k in ("sha256", "group", "near_dup_cluster")
    }
    dates: list[str] = []
    collected: list[str] = []
    for batch in pf.iter_batches(batch_size=SCAN_BATCH_ROWS, columns=cols):
        t = pa.Table.from_batches([batch])
        for name in NARROW:
            if name not in t.column_names:
                t = t.append_column(name, pa.nulls(t.num_rows, MANIFEST_SCHEMA.field(name).type))
        ids.append(t["id"].combine_chunks())
        flags["ok"].append(_bools(pc.fill_null(pc.equal(t["status"], "ok"), False)))
        pii = pc.fill_null(t["pii"], "{}")
        found = pc.invert(pc.is_in(pii, value_set=pa.array(["{}", ""], pa.string())))
        flags["has_pii"].append(_bools(found))
        flags["size"].append(
            np.asarray(pc.fill_null(t["size"], 0).to_numpy(zero_copy_only=False), np.int64)
        )
        key_parts["sha256"].append(_sha_keys(t["sha256"]))
        key_parts["group"].append(_hash_keys(t["group"], _GROUP_SALT))
        key_parts["near_dup_cluster"].append(_hash_keys(t["near_dup_cluster"], _CLUSTER_SALT))
        for col, acc in (("collection_date", dates), ("collected_at", collected)):
            values = t[col].drop_null()
            if len(values):
                acc += [pc.min(values).as_py(), pc.max(values).as_py()]
    out: dict[str, Any] = {
        "id": pa.chunked_array(ids, pa.string()),
        "first_date": min(dates) if dates else None,
        "last_date": max(dates) if dates else None,
        "last_collected": max(collected) if collected else None,
    }
    for k, parts in flags.items():
        out[k] = np.concatenate(parts) if parts else np.zeros(0, bool if k != "size" else np.int64)
    for k, kparts in key_parts.items():
        if kparts:
            out[k] = (
                np.concatenate([p[0] for p in kparts]),
                np.concatenate([p[1] for p in kparts]),
            )
        else:
            out[k] = (np.zeros(0, np.uint64), np.zeros(0, bool))
    return out


def _bools(values: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """A boolean Arrow array as numpy, without Python-level iteration."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


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


def stratum_values(spec: ProjectSpec, lab: pa.Table) -> pa.ChunkedArray | pa.Array:
    """The stratification key of every row of ``lab`` as a string (a list of classes joined
    by ``|``); all null when the spec stratifies by nothing ``lab`` holds."""
    key = spec.stratify_key
    if key is None or key not in lab.column_names:
        return pa.nulls(lab.num_rows, pa.string())
    col = lab.column(key)
    if pa.types.is_list(col.type):
        if not pa.types.is_string(col.type.value_type):
            return pa.nulls(lab.num_rows, pa.string())
        return pc.binary_join(col, "|")
    return col.cast(pa.string())


LINEAGE_SOURCE = {  # release column → consensus.parquet column
    "annotation_ids": "annotation_ids",
    "n_annotators": "n_annotators",
    "agreement": "agreement",
    "label_method": "method",
}


def _read_consensus(project: Project) -> pa.Table | None:
    """annotations/consensus.parquet's lineage columns, or None when it does not exist."""
    path = project.paths.annotations / "consensus.parquet"
    if not path.is_file():
        return None
    cons = pq.read_table(path, columns=["item_id", *LINEAGE_SOURCE.values()])
    return cons.cast(pa.schema([CONSENSUS_SCHEMA.field(c) for c in cons.column_names]))


def _lineage_table(cons: pa.Table | None, ids: pa.ChunkedArray) -> pa.Table | None:
    """The consensus columns named as in the release, one row per released item in release
    order (all null where an item has no consensus row), or None without a consensus table.
    Aligned once here, so that pass two takes zero-copy slices instead of gathering rows from
    the whole table per batch."""
    if cons is None or len(ids) == 0:
        return None
    idx = _positions_of(ids, cons.column("item_id"))
    table = pa.table({name: cons.column(src) for name, src in LINEAGE_SOURCE.items()})
    if _is_identity(idx, table.num_rows):
        return table
    return table.take(idx)
