"""The labelled items with the split each will have in the release.

The split assignment is a pure function of the manifest, the label records and the spec, so
validity uses the code ``datakit package`` uses (core's ``load_keys`` +
``assign_split_indices``) and gets the very splits the release will have. Items the release
leaves out (a cross-group near-duplicate, ``item_split == -1``) are not used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from datakit.project import Project


@dataclass
class SplitItems:
    """Released items in manifest order: id, split index, unit (connected component of
    sha256/group/near-duplicate links: the thing that never straddles two splits), the
    label field's value, and the content (text, or a project-relative file)."""

    ids: list[str]
    split: npt.NDArray[np.int64]  # index into ``names``
    unit: npt.NDArray[np.int64]
    labels: list[Any]
    texts: list[str | None]
    files: list[str | None]
    names: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, split: str) -> npt.NDArray[np.int64]:
        if split not in self.names:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.split == self.names.index(split))

    def sizes(self) -> dict[str, int]:
        return {s: len(self.index(s)) for s in self.names}


def split_items(project: Project) -> SplitItems:
    """The release's items and splits, computed before ``package`` exists."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datakit.release_keys import load_keys
    from datakit.splits import split_names

    spec = project.spec
    keys = load_keys(project, spec)
    names = split_names(spec.splits.ratios)
    if keys.count == 0:
        return SplitItems([], np.zeros(0, np.int64), np.zeros(0, np.int64), [], [], [], names)
    got = keys.assign(spec)
    kept = np.flatnonzero(~got.excluded)
    rows = keys.positions if keys.label_rows is None else keys.label_rows
    label_field = spec.task.label_field
    picked = keys.labels.select(["id", label_field]).take(pa.array(rows[kept]))
    want = [
        c
        for c in ("text", "stored_path")
        if c in pq.ParquetFile(project.paths.manifest).schema_arrow.names
    ]
    manifest = pq.read_table(project.paths.manifest, columns=want).take(
        pa.array(keys.positions[kept])
    )
    n = len(kept)
    texts = manifest.column("text").to_pylist() if "text" in want else [None] * n
    files = manifest.column("stored_path").to_pylist() if "stored_path" in want else [None] * n
    return SplitItems(
        ids=[str(x) for x in picked.column("id").to_pylist()],
        split=got.item_split[kept],
        unit=got.components[kept],
        labels=picked.column(label_field).to_pylist(),
        texts=texts,
        files=files,
        names=names,
    )
