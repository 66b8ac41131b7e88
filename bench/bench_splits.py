"""Benchmark of the split assignment, side by side with what a user would otherwise write.

    .venv/bin/python bench/bench_splits.py            # shared corpus + 1M synthetic items
    .venv/bin/python bench/bench_splits.py --quick    # shared corpus + 200k synthetic items

* **Shares on real data.** The shared corpus's 33,893 Korean news comments
  (``../shared/corpora/korean-hate-speech/unlabeled_comments_5.txt``) are collected with the
  article title as the group, then split 8:1:1 (stratified by a label spread over three
  classes by id) with each ``splits.cross_group_near_duplicates`` policy. Printed: the
  achieved shares, the largest unit, the items left out, and the near-duplicate leakage.
  Next to it, the split a user would write by hand: hash the group into ten buckets (8:1:1)
  — fast, but blind to near-duplicates across groups.
* **Time.** ``assign_split_indices`` (units, large units first, walk, exclusion) on 1M
  synthetic items with groups and clusters that cross them, against the hand-written
  group-hash split in numpy over the same arrays. Best of three.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}
CLASSES = ("긍정", "부정", "중립")


def _best(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _hand_split(groups: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """What users write: bucket = hash(group) % 10; 0-7 train, 8 validation, 9 test."""
    from datakit.splits import stable_hash64

    bucket = stable_hash64(pa.array(groups, pa.string()), 42) % np.uint64(10)
    return np.where(bucket < 8, 0, np.where(bucket < 9, 1, 2))


def _shares(split: np.ndarray, keep: np.ndarray | None = None) -> dict[str, float]:  # type: ignore[type-arg]
    s = split if keep is None else split[keep]
    c = np.bincount(s, minlength=3)
    return {name: round(float(c[i] / c.sum()), 4) for i, name in enumerate(RATIOS)}


def _leak(values: list[str | None], split: np.ndarray, keep: np.ndarray) -> int:  # type: ignore[type-arg]
    seen: dict[str, set[int]] = {}
    for v, s, k in zip(values, split.tolist(), keep.tolist(), strict=True):
        if v is not None and k:
            seen.setdefault(v, set()).add(s)
    return sum(1 for x in seen.values() if len(x) > 1)


def real_corpus() -> None:
    from datakit.plan.init import init_project
    from datakit.splits import (
        assign_split_indices,
        stable_hash64,
        stratum_ranks,
        unit_key_codes,
    )
    from tests.fixtures.corpora import collected_comments

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "comments"
        init_project(root, template="text_classification", dataset_id="hate-speech-comments")
        t0 = time.perf_counter()
        rows = collected_comments(root)
        collect_s = time.perf_counter() - t0
    n = len(rows)
    ids = [r["id"] for r in rows]
    groups = [r["group"] for r in rows]
    clusters = [r["near_dup_cluster"] for r in rows]
    table = pa.table(
        {
            "id": ids,
            "sha256": [r["sha256"] for r in rows],
            "group": groups,
            "near_dup_cluster": clusters,
        }
    )
    strata = stratum_ranks(pa.array([CLASSES[sum(i.encode()) % 3] for i in ids]))
    print(
        f"shared corpus: {n:,} comments collected (ok) under {len(set(groups))} titles "
        f"in {collect_s:.1f} s; {len({c for c in clusters if c})} near-duplicate clusters"
    )
    print(
        f"{'split':<34} {'train':>7} {'valid':>7} {'test':>7} {'largest unit':>13} "
        f"{'left out':>9} {'nd leak':>8} {'time':>8}"
    )
    for policy in ("exclude", "ignore", "together"):
        secs, got = _best(
            lambda p=policy: assign_split_indices(  # type: ignore[misc]
                stable_hash64(table.column("id"), 42),
                unit_key_codes(table),
                strata,
                RATIOS,
                cross_group=p,
            )
        )
        keep = ~got.excluded
        sizes = Counter(got.components[keep].tolist())
        sh = _shares(got.item_split, keep)
        print(
            f"{'datakit, ' + policy:<34} {sh['train']:>7.2%} {sh['validation']:>7.2%} "
            f"{sh['test']:>7.2%} {max(sizes.values()):>13,} {int(got.excluded.sum()):>9,} "
            f"{_leak(clusters, got.item_split, keep):>8} {secs * 1000:>6.1f}ms"
        )
    secs, hand = _best(lambda: _hand_split(np.array(groups, dtype=object)))
    sh = _shares(hand)
    biggest = Counter(groups).most_common(1)[0][1]
    print(
        f"{'hand-written hash(title) % 10':<34} {sh['train']:>7.2%} {sh['validation']:>7.2%} "
        f"{sh['test']:>7.2%} {biggest:>13,} {0:>9} "
        f"{_leak(clusters, hand, np.ones(n, bool)):>8} {secs * 1000:>6.1f}ms"
    )


def synthetic(n: int) -> None:
    from datakit.splits import assign_split_indices, stable_hash64

    rng = np.random.default_rng(7)
    ids = pa.array([f"item-{i:08d}" for i in range(n)])
    n_groups = n // 20
    group = rng.integers(0, n_groups, n).astype(np.uint64)
    has_cluster = rng.random(n) < 0.02  # 2% are copies of generic texts across groups
    cluster = rng.integers(0, max(1, n // 500), n).astype(np.uint64)
    sha = np.arange(n, dtype=np.uint64)
    keys = [
        (sha, np.ones(n, bool)),
        (group, np.ones(n, bool)),
        (cluster, has_cluster),
    ]
    strata = rng.integers(0, 3, n)
    item_hash = stable_hash64(ids, 42)
    secs, got = _best(
        lambda: assign_split_indices(item_hash, keys, strata, RATIOS, cross_group="exclude")
    )
    group_names = np.array([f"g{g}" for g in group.tolist()], dtype=object)
    base, _ = _best(lambda: _hand_split(group_names))
    keep = ~got.excluded
    print(f"\n{n:,} synthetic items ({n_groups:,} groups, 2% cross-group copies):")
    print(
        f"  datakit assign_split_indices  {secs:7.3f} s  shares {_shares(got.item_split, keep)}"
        f"  left out {int(got.excluded.sum()):,}"
    )
    print(f"  hand-written hash(group) % 10 {base:7.3f} s  (no clusters, no strata)")
    print(f"  ratio datakit / hand-written  {secs / base:7.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    real_corpus()
    synthetic(200_000 if args.quick else 1_000_000)


if __name__ == "__main__":
    main()
