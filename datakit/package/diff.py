"""``diff_releases(old, new)``: items added, removed and relabelled between two releases (and
items whose content or split changed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.io import read_json

from .run import METADATA_FILE
from .verify import SHARD_RE


@dataclass
class DiffResult:
    old: str
    new: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    relabelled: list[dict[str, Any]] = field(default_factory=list)
    content_changed: list[str] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)  # split changed
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.added or self.removed or self.relabelled or self.content_changed or self.moved
        )

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        def cut(xs: list[Any]) -> list[Any]:
            return xs if limit is None else xs[:limit]

        return {
            "old": self.old,
            "new": self.new,
            "counts": {
                "added": len(self.added),
                "removed": len(self.removed),
                "relabelled": len(self.relabelled),
                "content_changed": len(self.content_changed),
                "moved": len(self.moved),
                "unchanged": self.unchanged,
            },
            "added": cut(self.added),
            "removed": cut(self.removed),
            "relabelled": cut(self.relabelled),
            "content_changed": cut(self.content_changed),
            "moved": cut(self.moved),
        }


def _label_columns(root: Path) -> list[str]:
    meta = read_json(root / METADATA_FILE)
    return [c["name"] for c in meta["columns"] if c["role"] == "label"]


def _load(root: Path, label_cols: list[str]) -> dict[str, tuple[str, str | None, str]]:
    """id → (split, source_sha256, canonical JSON of the label columns)."""
    import pyarrow.parquet as pq

    out: dict[str, tuple[str, str | None, str]] = {}
    for shard in sorted((root / "data").glob("*.parquet")):
        m = SHARD_RE.match(shard.relative_to(root).as_posix())
        if not m:
            continue
        names = pq.ParquetFile(shard).schema_arrow.names
        cols = ["id", "source_sha256", *[c for c in label_cols if c in names]]
        t = pq.read_table(shard, columns=[c for c in cols if c in names])
        data = t.to_pydict()
        labels = [c for c in label_cols if c in data]
        for i, item in enumerate(data["id"]):
            lab = json.dumps({c: data[c][i] for c in labels}, ensure_ascii=False, sort_keys=True)
            sha = data.get("source_sha256", [None] * t.num_rows)[i]
            out[item] = (m.group(1), sha, lab)
    return out


def diff_releases(old: str | Path, new: str | Path) -> DiffResult:
    old_root, new_root = Path(old), Path(new)
    labels = sorted(set(_label_columns(old_root)) | set(_label_columns(new_root)))
    a, b = _load(old_root, labels), _load(new_root, labels)
    result = DiffResult(old=str(old_root), new=str(new_root))
    result.added = sorted(set(b) - set(a))
    result.removed = sorted(set(a) - set(b))
    for item in sorted(set(a) & set(b)):
        (s0, h0, l0), (s1, h1, l1) = a[item], b[item]
        same = True
        if l0 != l1:
            result.relabelled.append({"id": item, "old": json.loads(l0), "new": json.loads(l1)})
            same = False
        if h0 != h1:
            result.content_changed.append(item)
            same = False
        if s0 != s1:
            result.moved.append({"id": item, "old": s0, "new": s1})
            same = False
        result.unchanged += same
    return result
