"""The leakage check: no exact-hash duplicate, near-duplicate cluster or group spans splits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

LEAKAGE_KEYS = {
    "exact_hash": "source_sha256",  # same content sha256
    "near_duplicate": "near_dup_cluster",  # same near-duplicate cluster
    "group": "_group",  # same group value (speaker, document, …)
}


def overlap(values: pa.ChunkedArray | pa.Array, splits: pa.ChunkedArray | pa.Array) -> int:
    """Number of distinct non-null values that occur in more than one split."""
    if len(values) == 0:
        return 0
    from datakit.splits import dictionary_codes, sha256_codes

    fast = sha256_codes(values)
    v = fast if fast is not None else dictionary_codes(values)[0]
    s = dictionary_codes(splits)[0]
    keep = v >= 0
    if not keep.any():
        return 0
    width = int(s.max()) + 2
    pairs = np.unique(v[keep] * width + s[keep] + 1)
    per_value = np.bincount(pairs // width)
    return int((per_value > 1).sum())


def leakage_figures(
    table: pa.Table, split_column: str = "split", keys: dict[str, str] | None = None
) -> dict[str, Any]:
    """``{"exact_hash": n, "near_duplicate": n, "group": n, "total": n}`` for a table with a
    split column."""
    out: dict[str, Any] = {}
    for name, col in (keys or LEAKAGE_KEYS).items():
        out[name] = (
            overlap(table.column(col), table.column(split_column))
            if col in table.column_names
            else 0
        )
    out["total"] = sum(v for v in out.values())
    return out


def overlap_keys(values: np.ndarray, valid: np.ndarray, split_idx: np.ndarray) -> int:  # type: ignore[type-arg]
    """:func:`overlap` on fixed-width keys (uint64 hashes with a validity mask)."""
    from datakit.splits import maybe_repeated

    keep = np.flatnonzero(valid)
    keep = keep[maybe_repeated(values[keep])]  # a value seen once cannot span splits
    if keep.size == 0:
        return 0
    v, s = values[keep], split_idx[keep]
    order = np.lexsort((s, v))
    v, s = v[order], s[order]
    new_value = np.r_[True, v[1:] != v[:-1]]
    new_pair = new_value | np.r_[True, s[1:] != s[:-1]]
    # a value leaks when it has more than one (value, split) pair
    pairs_per_value = np.add.reduceat(new_pair.astype(np.int64), np.flatnonzero(new_value))
    return int((pairs_per_value > 1).sum())


def leakage_from_keys(
    keys: list[tuple[np.ndarray, np.ndarray]],  # type: ignore[type-arg]
    split_idx: np.ndarray,  # type: ignore[type-arg]
) -> dict[str, Any]:
    """:func:`leakage_figures` from the local engine's keys (sha256, group, cluster order)."""
    out: dict[str, Any] = {}
    for name, (values, valid) in zip(("exact_hash", "group", "near_duplicate"), keys, strict=True):
        out[name] = overlap_keys(values, valid, split_idx)
    out = {k: out[k] for k in ("exact_hash", "near_duplicate", "group")}
    out["total"] = sum(out.values())
    return out
