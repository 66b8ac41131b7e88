"""Duplicates and near-duplicates.

* Exact duplicates share a sha256 of the raw content. The earliest collected item (ties:
  smallest id) is kept; the others get ``status = duplicate`` and ``duplicate_of``.
* Near-duplicate texts: MinHash over character shingles with LSH banding, vectorised with
  numpy (datasketch's per-document objects took ~40 s for 100k texts here; this takes a
  few), candidates confirmed by the exact Jaccard similarity of their shingle sets. Shingles are
  taken after NFC, lower-casing and removing whitespace and punctuation, so Korean spacing
  (띄어쓰기) and punctuation edits do not hide a near-duplicate.
* Near-duplicate images: 64-bit perceptual hashes (imagehash.phash) within a Hamming
  distance; candidates come from exact matches on one of ``d + 1`` hash segments
  (pigeonhole), so not every pair is compared.

Near-duplicates are flagged, never removed: every member of a cluster gets the same
``near_dup_cluster`` id, ``"nd-" + the smallest member id`` (stable while the members are).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_TEXT_THRESHOLD = 0.5
DEFAULT_SHINGLE = 2
DEFAULT_NUM_PERM = 128
DEFAULT_BANDS = 32  # 32 bands of 4 rows: P(candidate) is 0.87 at J=0.5, 0.05 at J=0.2
DEFAULT_IMAGE_DISTANCE = 6
MAX_SHINGLED_CHARS = 50_000  # longer texts are compared on their first 50k characters

_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = re.compile(r"(\d+)")


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def natural_key(path: str) -> tuple[tuple[int, str], ...]:
    """Sort key that puts ``row=9`` before ``row=10`` and ``img2`` before ``img10``."""
    return tuple(
        (1, p) if i % 2 == 0 else (0, f"{int(p):020d}") for i, p in enumerate(_DIGITS.split(path))
    )


def exact_duplicates(
    ids: Sequence[str], hashes: Sequence[str], order_key: Callable[[int], Any]
) -> dict[int, int]:
    """``{index of a duplicate: index of the item it duplicates}``.

    The kept item of a group is the one with the smallest ``(order_key(i), id)``; collect
    passes (collected_at, natural order of source_path), so the first collected, first
    listed copy is kept.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        groups[h].append(i)
    out: dict[int, int] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        keep = min(members, key=lambda i: (order_key(i), ids[i]))
        for i in members:
            if i != keep:
                out[i] = keep
    return out


def shingles(text: str, k: int = DEFAULT_SHINGLE) -> set[str]:
    norm = _STRIP.sub("", unicodedata.normalize("NFC", text).lower())
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i : i + k] for i in range(len(norm) - k + 1)}


def _clusters(ids: Sequence[str], uf: _UnionFind, n: int) -> dict[int, str]:
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[uf.find(i)].append(i)
    out: dict[int, str] = {}
    for group in members.values():
        if len(group) < 2:
            continue
        cid = "nd-" + min(ids[i] for i in group)
        for i in group:
            out[i] = cid
    return out


def _norm(text: str) -> str:
    return _STRIP.sub("", unicodedata.normalize("NFC", text).lower())


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = x ^ (x >> np.uint64(31))
    return out


def minhash_signatures(
    texts: Sequence[str],
    *,
    k: int = DEFAULT_SHINGLE,
    num_perm: int = DEFAULT_NUM_PERM,
    seed: int = 1,
) -> npt.NDArray[np.uint32]:
    """MinHash signatures (n × num_perm, uint32) of the character k-shingles of each text.

    Vectorised with numpy over all texts at once (no per-shingle Python work): shingles are
    coded from their code points, mixed with splitmix64, and permuted by multiply-shift
    hashing ``(a·x + b) >> 32`` with odd ``a``.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
    n = len(texts)
    out = np.empty((n, num_perm), dtype=np.uint32)
    start = 0
    while start < n:
        # a block of documents with at most ~40k shingles: temporaries stay near 5 MB
        norms: list[str] = []
        total = 0
        while start + len(norms) < n and (not norms or total < 40_000):
            s = _norm(texts[start + len(norms)])[:MAX_SHINGLED_CHARS].ljust(k, "\x00")
            norms.append(s)
            total += len(s)
        out[start : start + len(norms)] = _block_signatures(norms, k, a, b)
        start += len(norms)
    return out


def _block_signatures(
    norms: list[str], k: int, a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint32]:
    lengths = np.fromiter((len(s) for s in norms), dtype=np.int64, count=len(norms))
    cps = np.frombuffer("".join(norms).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    codes = cps[: len(cps) - k + 1].copy()
    for j in range(1, k):
        codes = (codes << np.uint64(21)) | cps[j : len(cps) - k + 1 + j]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    counts = lengths - k + 1
    # shingles that start in a document and end in it (not across the join)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    x = _splitmix64(codes[np.repeat(starts, counts) + offsets])
    bounds = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sig = np.empty((len(norms), len(a)), dtype=np.uint32)
    for p in range(0, len(a), 16):  # 16 permutations at a time
        with np.errstate(over="ignore"):
            h = ((x[:, None] * a[None, p : p + 16] + b[None, p : p + 16]) >> np.uint64(32)).astype(
                np.uint32
            )
        sig[:, p : p + 16] = np.minimum.reduceat(h, bounds, axis=0)
    return sig


def _agreement(
    sig: npt.NDArray[np.uint32], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Share of equal MinHash values per pair: an estimate of their Jaccard similarity."""
    out = np.empty(len(left), dtype=np.float64)
    step = 20_000  # pairs per gather: 2 × 20k × 128 × 4 bytes
    for s in range(0, len(left), step):
        out[s : s + step] = (sig[left[s : s + step]] == sig[right[s : s + step]]).mean(axis=1)
    return out


def _candidate_pairs(
    sig: npt.NDArray[np.uint32], bands: int, screen: float, max_bucket_gap: int = 32
) -> npt.NDArray[np.int64]:
    """Pairs (as ``i * n + j``, i < j) that agree on every row of at least one band (LSH
    banding) and whose signature agreement is at least ``screen``. Screening band by band
    keeps memory flat: short texts over a small vocabulary give millions of raw candidates."""
    n, p = sig.shape
    r = p // bands
    kept: list[npt.NDArray[np.int64]] = []
    mult = np.random.default_rng(7).integers(1, 2**63, r, dtype=np.uint64) | np.uint64(1)
    for band in range(bands):
        part = sig[:, band * r : (band + 1) * r].astype(np.uint64)
        with np.errstate(over="ignore"):
            key = _splitmix64((part * mult[None, :]).sum(axis=1, dtype=np.uint64))
        order = np.argsort(key, kind="stable")
        sk = key[order]
        # every pair inside a bucket, up to max_bucket_gap apart in sorted order (huge buckets
        # of identical texts are linked through their neighbours instead of all pairs)
        for gap in range(1, max_bucket_gap + 1):
            same = np.nonzero(sk[gap:] == sk[:-gap])[0]
            if not len(same):
                break
            i, j = order[same], order[same + gap]
            lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
            good = _agreement(sig, lo, hi) >= screen
            kept.append(lo[good] * n + hi[good])
    if not kept:
        return np.empty(0, dtype=np.int64)
    codes: npt.NDArray[np.int64] = np.unique(np.concatenate(kept))
    return codes


def text_clusters(
    ids: Sequence[str],
    texts: Sequence[str],
    *,
    threshold: float = DEFAULT_TEXT_THRESHOLD,
    k: int = DEFAULT_SHINGLE,
    num_perm: int = DEFAULT_NUM_PERM,
    bands: int = DEFAULT_BANDS,
) -> dict[int, str]:
    """``{index: cluster id}`` for texts whose shingle Jaccard similarity ≥ ``threshold``.

    MinHash + LSH banding find candidate pairs; the signature agreement screens them
    (≥ threshold − 0.1, over two standard errors below at 128 permutations), and the exact
    Jaccard similarity of the two shingle sets decides.
    """
    n = len(texts)
    if n < 2:
        return {}
    sig = minhash_signatures(texts, k=k, num_perm=num_perm)
    codes = _candidate_pairs(sig, bands, screen=threshold - 0.1)
    del sig
    uf = _UnionFind(n)
    for code in codes.tolist():
        i, j = divmod(code, n)
        if uf.find(i) == uf.find(j):
            continue
        a, b = shingles(texts[i], k), shingles(texts[j], k)
        inter = len(a & b)
        if inter and inter / (len(a) + len(b) - inter) >= threshold:
            uf.union(i, j)
    return _clusters(ids, uf, n)


def image_clusters(
    ids: Sequence[str], phashes: Sequence[str], *, max_distance: int = DEFAULT_IMAGE_DISTANCE
) -> dict[int, str]:
    """``{index: cluster id}`` for images whose 64-bit phashes differ in ≤ max_distance bits."""
    n = len(phashes)
    if n < 2:
        return {}
    values = [int(h, 16) for h in phashes]
    segments = max_distance + 1
    bounds = [round(64 * s / segments) for s in range(segments + 1)]
    uf = _UnionFind(n)
    for s in range(segments):
        lo, hi = bounds[s], bounds[s + 1]
        mask = (1 << (hi - lo)) - 1
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, v in enumerate(values):
            buckets[(v >> lo) & mask].append(i)
        for members in buckets.values():
            for x in range(len(members)):
                i = members[x]
                for j in members[x + 1 :]:
                    if (values[i] ^ values[j]).bit_count() <= max_distance:
                        uf.union(i, j)
    return _clusters(ids, uf, n)
