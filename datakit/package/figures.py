"""Release figures counted over some rows and added up: what the local engine accumulates
batch by batch and the Spark engine shard by shard (serialised between tasks and driver)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datakit.spec.model import ProjectSpec

from .metadata import attribute_counts, by_split, class_counts


def _add(acc: dict[str, Any], new: dict[str, Any]) -> None:
    """Sum nested count dictionaries into ``acc``."""
    for k, v in new.items():
        if isinstance(v, dict):
            _add(acc.setdefault(k, {}), v)
        else:
            acc[k] = acc.get(k, 0) + v


def sorted_counts(d: dict[str, Any]) -> dict[str, Any]:
    """Nested count dictionaries with every level sorted by key."""
    return {k: sorted_counts(v) if isinstance(v, dict) else v for k, v in sorted(d.items())}


@dataclass
class ReleaseFigures:
    """The release figures of some rows: ``metadata.class_counts`` and
    ``metadata.attribute_counts`` (value → split → items), sources and label methods
    (value → split → items), and the sums behind the lineage means."""

    classes_acc: dict[str, Any]
    attributes: dict[str, Any]
    totals: dict[str, dict[str, Any]]
    sums: dict[str, list[float]]
    lineage: bool

    @classmethod
    def empty(cls) -> ReleaseFigures:
        return cls({}, {}, {"source_name": {}, "label_method": {}}, {}, False)

    @classmethod
    def of(
        cls, spec: ProjectSpec, table: pa.Table, splits: pa.Array, lineage: bool
    ) -> ReleaseFigures:
        totals: dict[str, dict[str, Any]] = {"source_name": {}, "label_method": {}}
        for name in ("source_name", "label_method") if lineage else ("source_name",):
            by = by_split(table[name], splits)
            totals[name] = {k: sum(v.values()) for k, v in by.items()}
        sums = {
            name: [float(pc.sum(table[name]).as_py() or 0), len(table) - table[name].null_count]
            for name in ("agreement", "n_annotators")
            if lineage
        }
        return cls(
            class_counts(spec, table, splits),
            attribute_counts(spec, table, splits),
            totals,
            sums,
            lineage,
        )

    def add(self, other: ReleaseFigures) -> None:
        _add(self.classes_acc, other.classes_acc)
        _add(self.attributes, other.attributes)
        for name, acc in other.totals.items():
            _add(self.totals[name], acc)
        for name, (total, n) in other.sums.items():
            pair = self.sums.setdefault(name, [0.0, 0])
            pair[0] += total
            pair[1] += n
        self.lineage = self.lineage or other.lineage

    def classes(self, spec: ProjectSpec) -> dict[str, dict[str, int]]:
        """As ``metadata.class_counts``: declared classes first (zero counts included)."""
        if spec.label_field.type not in ("class", "classes", "spans", "boxes"):
            return {}
        counts = sorted_counts(self.classes_acc)
        ordered = {c: counts.get(c, {}) for c in spec.task.class_names}
        ordered.update({k: v for k, v in counts.items() if k not in ordered})
        return ordered

    def release_fields(self, spec: ProjectSpec) -> dict[str, Any]:
        """The figures as ``BuiltRelease`` fields (classes, attributes, sources, methods and
        the lineage means), the same whichever engine counted them."""
        return {
            "classes": self.classes(spec),
            "attributes": sorted_counts(self.attributes),
            "sources": sorted_counts(self.totals["source_name"]),
            "methods": sorted_counts(self.totals["label_method"]),
            "mean_agreement": self.mean("agreement"),
            "mean_annotators": self.mean("n_annotators"),
        }

    def mean(self, name: str) -> float | None:
        total, n = self.sums.get(name, [0.0, 0])
        return total / n if self.lineage and n else None

    def to_json(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ReleaseFigures:
        return cls(**json.loads(text))
