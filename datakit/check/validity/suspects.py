"""Labels the model doubts (의심 라벨): cleanlab's ``find_label_issues`` over out-of-fold
probabilities, written to ``reports/의심_라벨오류.csv`` in rank order (most doubtful first).

The CSV is for people with a spreadsheet: UTF-8 with a BOM (Excel shows Korean), and a cell
that would start a formula (``= + - @``) gets a leading ``'``. :class:`SuspectList` writes
the file and reads it back (``datakit check sample --suspects`` takes its top rows).
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from datakit.errors import InputError
from datakit.io import atomic_open

SUSPECTS_FILE = "의심_라벨오류.csv"
COLUMNS = (
    "rank",
    "item_id",
    "split",
    "given_label",
    "suggested_label",
    "label_quality",
    "suggested_probability",
    "content",
)
METHOD = "cleanlab.filter.find_label_issues (prune_by_noise_rate, ranked by self_confidence)"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CONTENT_CHARS = 200


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def unsafe_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA) else text


@dataclass(frozen=True)
class Suspect:
    rank: int
    item_id: str
    split: str | None
    given_label: str
    suggested_label: str
    label_quality: float  # probability the model gives the given label (lower: more doubtful)
    suggested_probability: float
    content: str = ""


@dataclass
class SuspectList:
    rows: list[Suspect]

    def __len__(self) -> int:
        return len(self.rows)

    def top(self, n: int) -> list[Suspect]:
        return self.rows[: max(0, n)]

    def write(self, path: Path) -> Path:
        with atomic_open(path, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for s in self.rows:
                w.writerow(
                    [
                        s.rank,
                        safe_cell(s.item_id),
                        safe_cell(s.split),
                        safe_cell(s.given_label),
                        safe_cell(s.suggested_label),
                        f"{s.label_quality:.6f}",
                        f"{s.suggested_probability:.6f}",
                        safe_cell(s.content),
                    ]
                )
        return path

    @classmethod
    def read(cls, path: Path) -> SuspectList:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the suspect list: {exc}", file=str(path)) from exc
        rows = []
        for n, r in enumerate(csv.DictReader(text.splitlines()), 2):
            try:
                rows.append(
                    Suspect(
                        rank=int(r["rank"]),
                        item_id=unsafe_cell(r["item_id"]),
                        split=unsafe_cell(r["split"]) or None,
                        given_label=unsafe_cell(r["given_label"]),
                        suggested_label=unsafe_cell(r["suggested_label"]),
                        label_quality=float(r["label_quality"]),
                        suggested_probability=float(r["suggested_probability"]),
                        content=unsafe_cell(r.get("content") or ""),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise InputError(
                    f"not a suspect row: {exc}",
                    file=f"{path}:{n}",
                    hint="the file is written by `datakit check`; run it again",
                ) from exc
        return cls(sorted(rows, key=lambda s: s.rank))


def rank_label_issues(
    labels: npt.NDArray[np.int64], probs: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Indices of the items cleanlab flags, most doubtful first."""
    from cleanlab.filter import find_label_issues

    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    with warnings.catch_warnings():  # "may not flag all issues" in a rare class: expected
        warnings.simplefilter("ignore", UserWarning)
        idx = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    return np.asarray(idx, dtype=np.int64)


def suspect_list(
    ids: Sequence[str],
    splits: Sequence[str | None],
    labels: npt.NDArray[np.int64],
    probs: npt.NDArray[np.float64],
    classes: Sequence[str],
    contents: Sequence[str | None],
) -> SuspectList:
    order = rank_label_issues(labels, probs)
    rows = []
    for rank, i in enumerate(order.tolist(), 1):
        best = int(np.argmax(probs[i]))
        content = (contents[i] or "").replace("\n", " ")
        rows.append(
            Suspect(
                rank=rank,
                item_id=ids[i],
                split=splits[i],
                given_label=classes[int(labels[i])],
                suggested_label=classes[best],
                label_quality=float(probs[i, int(labels[i])]),
                suggested_probability=float(probs[i, best]),
                content=content[:CONTENT_CHARS],
            )
        )
    return SuspectList(rows)
