"""metadata.json: built from measured figures, validated against
``specs/release-metadata.schema.json`` before it is written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakit.errors import ReleaseError
from datakit.schemas import load_schema
from datakit.spec.model import ProjectSpec

NULL_VALUE = "(없음)"


def by_split(
    values: pa.Array | pa.ChunkedArray, splits: pa.Array | pa.ChunkedArray
) -> dict[str, dict[str, int]]:
    """value → split → count (nulls under ``(없음)``). Counted as one ``bincount`` over
    (value code, split code) pairs; ``splits`` may be dictionary-encoded already."""
    from datakit.splits import dictionary_codes

    v, v_dict = dictionary_codes(pc.fill_null(values.cast(pa.string()), NULL_VALUE))
    s, s_dict = dictionary_codes(splits)
    v_names, s_names = v_dict.to_pylist(), s_dict.to_pylist()
    counts = np.bincount(v * len(s_names) + s, minlength=len(v_names) * len(s_names))
    out: dict[str, dict[str, int]] = {}
    for code in np.flatnonzero(counts).tolist():
        out.setdefault(v_names[code // len(s_names)], {})[s_names[code % len(s_names)]] = int(
            counts[code]
        )
    return {k: dict(sorted(out[k].items())) for k in sorted(out)}


def class_counts(
    spec: ProjectSpec, items: pa.Table, splits: pa.ChunkedArray | pa.Array
) -> dict[str, dict[str, int]]:
    """class → split → items (for multi-label, spans and boxes: items holding the class)."""
    f = spec.label_field
    if f.name not in items.column_names:
        return {}
    return count_classes(f.type, spec.task.class_names, items.column(f.name), splits)


def count_classes(
    field_type: str,
    class_names: Sequence[str],
    col: pa.ChunkedArray | pa.Array,
    splits: pa.ChunkedArray | pa.Array,
) -> dict[str, dict[str, int]]:
    """:func:`class_counts` from a label column of ``field_type``: what ``verify`` recounts
    from the shards without the spec."""
    if field_type not in ("class", "classes", "spans", "boxes"):
        return {}
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if isinstance(splits, pa.ChunkedArray):
        splits = splits.combine_chunks()
    if field_type == "class":
        counts = by_split(col, splits)
    else:
        parents = pc.list_parent_indices(col)
        flat = pc.list_flatten(col)
        labels = flat if field_type == "classes" else pc.struct_field(flat, "label")
        pairs = pa.table({"p": parents, "v": labels}).group_by(["p", "v"]).aggregate([])
        counts = by_split(pairs.column("v"), pc.take(splits, pairs.column("p")))
    # Declared classes always appear, with zero counts where absent.
    ordered = {c: counts.get(c, {}) for c in class_names}
    ordered.update({k: v for k, v in counts.items() if k not in ordered})
    return ordered


def attribute_fields(spec: ProjectSpec) -> list[str]:
    """Fields whose distribution the documents report: choices, the source, composition keys."""
    names: list[str] = []
    label = spec.task.label_field
    for f in spec.fields:
        if f.name == label:
            continue
        if f.type == "choice" or f.name in spec.targets.composition or f.name == "source":
            names.append(f.name)
    return names


def attribute_counts(
    spec: ProjectSpec, items: pa.Table, splits: pa.ChunkedArray | pa.Array
) -> dict[str, dict[str, dict[str, int]]]:
    return {
        name: by_split(items.column(name), splits)
        for name in attribute_fields(spec)
        if name in items.column_names and not pa.types.is_nested(items.column(name).type)
    }


def validate_metadata(meta: dict[str, Any]) -> list[str]:
    """Every problem of ``meta`` against the release metadata schema, as readable lines."""
    validator = jsonschema.Draft202012Validator(load_schema("release-metadata"))
    problems = []
    for err in sorted(validator.iter_errors(meta), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"{where}: {err.message}")
    return problems


def check_metadata(meta: dict[str, Any]) -> None:
    problems = validate_metadata(meta)
    if problems:
        body = "\n".join(f"  {p}" for p in problems[:50])
        raise ReleaseError(
            f"the release metadata is invalid ({len(problems)} problem(s)):\n{body}",
            hint="fix the dataset section of datakit.yaml (names, licence, organisations) "
            "and run `datakit package` again",
        )
