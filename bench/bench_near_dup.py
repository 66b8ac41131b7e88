"""Near-duplicate texts: the figures behind ``collect.near_duplicates`` (docs/collect.md).

1. The pairwise rule on the hand-labelled pairs (``tests/fixtures/near_dup_pairs.jsonl``):
   precision of the shingle rule by text length, and precision / recall of the whole rule
   for a range of ``min_length`` values: the data ``min_length`` is chosen from.
2. The shared corpus (Korean HateSpeech comments, CC BY-SA 4.0, Moon et al., 2020) through
   ``datakit collect``, then its ok texts clustered four ways, side by side: connected
   components of the confirmed pairs (what a union-find over MinHash matches gives, and
   what datakit did before) and datakit's leader clusters, each with shingles on every
   text (``min_length 0``) and with the spec default. Printed: clusters, items in them, the
   largest cluster, the largest unit when the article titles (groups) are joined through
   clusters that span them, and the time.

Usage: .venv/bin/python bench/bench_near_dup.py [--corpus PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datakit.collect import Mapping, collect  # noqa: E402
from datakit.collect.dedup import (  # noqa: E402
    _cluster_ids,
    _leaders,
    near_duplicate_texts,
    normalize_text,
    shingles,
    text_graph,
)
from datakit.plan.init import init_project  # noqa: E402
from datakit.project import Project  # noqa: E402
from datakit.spec.model import NearDuplicateSettings  # noqa: E402

PAIRS = REPO / "tests" / "fixtures" / "near_dup_pairs.jsonl"
CORPUS = REPO.parent / "shared" / "corpora" / "korean-hate-speech"
SPEC = NearDuplicateSettings()


def _jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    inter = len(x & y)
    return inter / (len(x) + len(y) - inter) if inter else 0.0


def bench_pairs() -> None:
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    print(f"## {len(pairs)} hand-labelled pairs ({sum(p['duplicate'] for p in pairs)} duplicates)")
    rows: list[tuple[int, bool, float, bool]] = []
    for p in pairs:
        na, nb = normalize_text(p["a"]), normalize_text(p["b"])
        sim = _jaccard(p["a"], p["b"])
        rows.append((min(len(na), len(nb)), na == nb, sim, bool(p["duplicate"])))
    print("\nshingle rule (Jaccard ≥ threshold, forms not equal) by the shorter text's length")
    print("\n| length | said yes | right | precision |\n|---|---|---|---|")
    buckets = [(0, 8), (8, 12), (12, 16), (16, 20), (20, 30), (30, 10**9)]
    for lo, hi in buckets:
        said = [d for m, eq, j, d in rows if lo <= m < hi and not eq and j >= SPEC.threshold]
        name = f"{lo}–{hi - 1}" if hi < 10**9 else f"{lo}+"
        prec = f"{sum(said) / len(said):.2f}" if said else "–"
        print(f"| {name} | {len(said)} | {sum(said)} | {prec} |")
    equal = [d for m, eq, j, d in rows if eq]
    print(f"| equal normal forms | {len(equal)} | {sum(equal)} | {sum(equal) / len(equal):.2f} |")
    print("\nwhole rule by min_length; 'shingle ≥ L': the shingle rule on pairs both ≥ L long")
    print("\n| min_length | precision | recall | shingle ≥ L: precision |\n|---|---|---|---|")
    for length in (0, 8, 12, 14, 16, 17, 18, 19, 20, 22, 25, 30):
        tp = fp = fn = stp = sfp = 0
        for m, eq, j, d in rows:
            shingle = not eq and m >= length and j >= SPEC.threshold
            yes = eq or shingle
            tp, fp, fn = tp + (yes and d), fp + (yes and not d), fn + (not yes and d)
            stp, sfp = stp + (shingle and d), sfp + (shingle and not d)
        mark = " (default)" if length == SPEC.min_length else ""
        print(
            f"| {length}{mark} | {tp / (tp + fp):.3f} | {tp / (tp + fn):.3f} | "
            f"{stp / max(1, stp + sfp):.3f} ({stp}/{stp + sfp}) |"
        )


def _components(n: int, edges: Sequence[tuple[int, int, float]]) -> list[int]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


def _cluster(
    ids: list[str], texts: list[str], min_length: int, how: Callable[..., list[int]]
) -> tuple[dict[int, str], float]:
    t0 = time.perf_counter()
    nodes, edges = text_graph(ids, texts, threshold=SPEC.threshold, min_length=min_length)
    rep = how(len(nodes), edges)
    members: dict[int, list[int]] = defaultdict(list)
    for v, r in enumerate(rep):
        members[r].extend(nodes[v])
    return _cluster_ids(ids, list(members.values())), time.perf_counter() - t0


def _largest_unit(groups: list[str], clusters: dict[int, str]) -> int:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, cid in clusters.items():
        a, b = find("c:" + cid), find("g:" + groups[i])
        if a != b:
            parent[a] = b
    return max(Counter(find("g:" + g) for g in groups).values())


def bench_corpus(corpus: Path) -> None:
    lines = (corpus / "unlabeled_comments_5.txt").read_text(encoding="utf-8").splitlines()
    titles = (corpus / "unlabeled_comments_5.news_title.txt").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="datakit-bench-") as t:
        root = Path(t) / "comments"
        init_project(root, template="text_classification", dataset_id="bench-comments")
        raw = root / "data" / "raw" / "comments.csv"
        with raw.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "title"])
            for i, (text, title) in enumerate(zip(lines, titles.splitlines(), strict=True)):
                w.writerow([f"c{i + 1:05d}", text, title])
        t0 = time.perf_counter()
        result = collect(Project(root), [raw], mapping=Mapping(group="title"))
        secs = time.perf_counter() - t0
        import pyarrow.parquet as pq

        ok = [
            r
            for r in pq.read_table(root / "data" / "manifest.parquet").to_pylist()
            if r["status"] == "ok"
        ]
    ids = [str(r["id"]) for r in ok]
    texts = [str(r["text"]) for r in ok]
    groups = [str(r["group"]) for r in ok]
    text_of = dict(zip(ids, texts, strict=True))
    print(
        f"\n## shared corpus: {len(lines):,} comments, {len(ok):,} ok after collect "
        f"({secs:.1f}s, {result.near_dup_clusters} clusters), {len(set(groups))} article titles"
    )
    print(
        "\n| clustering | min_length | clusters | items | largest | largest unit | time |"
        "\n|---|---|---|---|---|---|---|"
    )
    for name, how in (("connected components", _components), ("leader (datakit)", _leaders)):
        for length in (0, SPEC.min_length):
            clusters, took = _cluster(ids, texts, length, how)
            sizes = Counter(clusters.values())
            largest = max(sizes.values())
            print(
                f"| {name} | {length} | {len(sizes):,} | {len(clusters):,} | {largest} | "
                f"{_largest_unit(groups, clusters):,} of {len(ok):,} | {took:.2f}s |"
            )
            if name.startswith("leader"):
                for i, cid in clusters.items():  # the invariant, checked on real data
                    rep = text_of[cid.removeprefix("nd-")]
                    assert near_duplicate_texts(rep, texts[i], min_length=length)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args()
    bench_pairs()
    if (args.corpus / "unlabeled_comments_5.txt").is_file():
        bench_corpus(args.corpus)
    else:
        print(f"\n(shared corpus not found at {args.corpus}: skipped)")


if __name__ == "__main__":
    main()
