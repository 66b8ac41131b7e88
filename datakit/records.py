"""Building label records: the item's own fields come from the manifest, the label fields
from annotations. One place, shared by annotate (pull/import), check and package."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from datakit.spec.model import ProjectSpec

# Field names filled from manifest columns of the same meaning.
_FROM_MANIFEST = {
    "id": "id",
    "text": "text",
    "source": "source",
    "license": "license",
    "width": "width",
    "height": "height",
    "mode": "mode",
    "sample_rate": "sample_rate",
    "channels": "channels",
    "duration": "duration",
    "text_length": "text_length",
    "media_type": "media_type",
    "sha256": "sha256",
    "collection_date": "collection_date",
}


def label_fields(spec: ProjectSpec) -> set[str]:
    """Fields whose values come from annotators: the label field and the task attributes."""
    return {spec.task.label_field, *(a.name for a in spec.task.attributes)}


def item_fields(row: dict[str, Any], spec: ProjectSpec) -> dict[str, Any]:
    """The non-label fields of an item's label record, from its manifest row.

    A field is filled from the manifest column of the same name (see ``_FROM_MANIFEST``),
    ``file_name`` from the original path's base name, ``group``-key fields from the
    manifest's ``group`` column, and anything else from the item's ``attributes`` JSON.
    Fields with no value are left out (the schema decides whether that is an error).
    """
    attrs = row.get("attributes")
    extra: dict[str, Any] = json.loads(attrs) if isinstance(attrs, str) and attrs else {}
    skip = label_fields(spec)
    out: dict[str, Any] = {}
    for f in spec.fields:
        if f.name in skip:
            continue
        value: Any = None
        if f.name in _FROM_MANIFEST:
            value = row.get(_FROM_MANIFEST[f.name])
        elif f.name == "file_name":
            path = str(row.get("source_path") or "")
            value = posixpath.basename(path.split("#", 1)[0]) or None
        if value is None and f.name in extra:
            value = extra[f.name]
        if value is None and f.name == spec.splits.group:
            value = row.get("group")
        if value is not None:
            out[f.name] = value
    return out


def ordered_record(record: dict[str, Any], spec: ProjectSpec) -> dict[str, Any]:
    """The record with keys in field-dictionary order (stable output, readable files)."""
    order = {name: i for i, name in enumerate(spec.field_names)}
    return dict(sorted(record.items(), key=lambda kv: order.get(kv[0], len(order))))
