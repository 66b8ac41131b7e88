"""Duplicates and near-duplicates.

* Exact duplicates share a sha256 of the raw content. The earliest collected item (ties:
  smallest id) is kept; the others get ``status = duplicate`` and ``duplicate_of``.
* Near-duplicate texts are compared in a normal form (:func:`normalize_text`: NFKC,
  casefold, no links, spacing, punctuation, emoji or laughter jamo, long runs of one
  character cut to two). Two texts are near-duplicates when their normal forms are equal,
  or, when both are at least ``min_length`` characters long, when the Jaccard similarity of
  their character 2-shingles is at least ``threshold`` (:func:`near_duplicate_texts`). Below
  ``min_length`` shingles say little: "응원합니다" and "축하합니다" share half of theirs.
  Candidates come from MinHash with LSH banding, vectorised with numpy (datasketch's
  per-document objects took ~40 s for 100k texts here; this takes a few).
* Near-duplicate images: 64-bit perceptual hashes (imagehash.phash) within a Hamming
  distance; candidates come from exact matches on one of ``d + 1`` hash segments
  (pigeonhole), so not every pair is compared.

Clusters are built by leader clustering, never by chaining pairs: items are taken in id
order, and each joins the cluster of the most similar earlier representative it is a
near-duplicate of, or else becomes a representative itself. Every member is therefore a
near-duplicate of its representative, so "응원합니다" → "축하합니다" → "행복하세요" cannot
end up in one cluster through texts in between. The representative is the smallest id of
its cluster, so the cluster id, ``"nd-" + the smallest member id``, is stable while the
members are, and nothing depends on the order the items came in.

Near-duplicates are flagged, never removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from datakit.spec.model import NearDuplicateSettings

DEFAULT_TEXT_THRESHOLD = NearDuplicateSettings.threshold
DEFAULT_MIN_LENGTH = NearDuplicateSettings.min_length
DEFAULT_SHINGLE = 2
DEFAULT_NUM_PERM = 128
DEFAULT_BANDS = 32  # 32 bands of 4 rows: P(candidate) is 0.87 at J=0.5, 0.05 at J=0.2
DEFAULT_IMAGE_DISTANCE = 6
MAX_SHINGLED_CHARS = 50_000  # longer texts are compared on their first 50k characters
# Bump when the near-duplicate rule changes, so a rerun clusters again.
NEAR_DUP_VERSION = 2

_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = re.compile(r"(\d+)")
# links compare as the text around them: two posts of different links share most shingles
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
# laughing, crying and flat-face jamo (ㅋㅋ, ㅎㅎ, ㅠㅠ, ㅜㅜ, ㅡㅡ): emoticons, not wording
_LAUGH = re.compile("[\u314b\u314e\u3160\u315c\u3161]+")
_REPEAT = re.compile(r"(.)\1{2,}")


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


def normalize_text(text: str) -> str:
    """The form near-duplicate texts are compared in.

    NFC; links removed; laughing and crying jamo (ㅋ ㅎ ㅠ ㅜ ㅡ) removed unless that leaves
    nothing; NFKC (full-width letters and digits become ASCII) and casefold; whitespace,
    punctuation, symbols and emoji removed (so 띄어쓰기 and punctuation edits do not hide a
    copy); a run of three or more of one character cut to two ("!!!!", "~~~~", "ㅋㅋㅋㅋ").
    A text of only links, punctuation or emoji normalises to "" and has no near-duplicates.
    """
    s = _URL.sub(" ", unicodedata.normalize("NFC", text))
    bare = _LAUGH.sub("", s)
    if _STRIP.sub("", bare):  # laughter alone is kept: "ㅋㅋㅋ" matches "ㅋㅋㅋㅋ", not "ㅎㅎ"
        s = bare
    s = _STRIP.sub("", unicodedata.normalize("NFKC", s).casefold())
    return _REPEAT.sub(r"\1\1", s)


def _shingle_set(norm: str, k: int) -> set[str]:
    norm = norm[:MAX_SHINGLED_CHARS]
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i : i + k] for i in range(len(norm) - k + 1)}


def shingles(text: str, k: int = DEFAULT_SHINGLE) -> set[str]:
    """The character k-shingles of a text's normal form (:func:`normalize_text`)."""
    return _shingle_set(normalize_text(text), k)


def _jaccard(a: set[str], b: set[str]) -> float:
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) if inter else 0.0


def _similarity(na: str, nb: str, threshold: float, min_length: int, k: int) -> float | None:
    """How alike two normal forms are (1.0 when equal), or None if not near-duplicates."""
    if not na or not nb:
        return None
    if na == nb:
        return 1.0
    if min(len(na), len(nb)) < min_length:
        return None
    sim = _jaccard(_shingle_set(na, k), _shingle_set(nb, k))
    return sim if sim >= threshold else None


def near_duplicate_texts(
    a: str,
    b: str,
    *,
    threshold: float = DEFAULT_TEXT_THRESHOLD,
    min_length: int = DEFAULT_MIN_LENGTH,
    k: int = DEFAULT_SHINGLE,
) -> bool:
    """Whether two texts are near-duplicates: the pairwise rule every cluster member meets
    with its representative.

    Equal normal forms (:func:`normalize_text`) always are; otherwise both normal forms
    must be at least ``min_length`` characters long and their k-shingle Jaccard similarity
    at least ``threshold``.
    """
    return _similarity(normalize_text(a), normalize_text(b), threshold, min_length, k) is not None


def _leaders(n: int, edges: Iterable[tuple[int, int, float]]) -> list[int]:
    """Leader clustering of nodes ``0..n-1`` taken in index order: ``[representative of
    each node]``. ``edges`` are the confirmed near-duplicate pairs with their similarity
    (higher is closer); a node joins the most similar earlier representative it has an
    edge to (ties: the earliest), else represents itself."""
    earlier: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for i, j, sim in edges:
        if i != j:
            earlier[max(i, j)].append((sim, min(i, j)))
    rep = list(range(n))
    for v in sorted(earlier):  # every earlier node is settled by now
        live = [(sim, -u) for sim, u in earlier[v] if rep[u] == u]
        if live:
            rep[v] = -max(live)[1]
    return rep


def _cluster_ids(ids: Sequence[str], members: Sequence[Sequence[int]]) -> dict[int, str]:
    """``{index: "nd-" + smallest id}`` for every group of two or more items."""
    out: dict[int, str] = {}
    for group in members:
        if len(group) < 2:
            continue
        cid = "nd-" + min(ids[i] for i in group)
        for i in group:
            out[i] = cid
    return out


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
    """MinHash signatures (n × num_perm, uint32) of the character k-shingles of each text's
    normal form (:func:`normalize_text`)."""
    return _signatures([normalize_text(t) for t in texts], k=k, num_perm=num_perm, seed=seed)


def _signatures(
    forms: Sequence[str], *, k: int, num_perm: int, seed: int = 1
) -> npt.NDArray[np.uint32]:
    """MinHash signatures of normal forms.

    Vectorised with numpy over all texts at once (no per-shingle Python work): shingles are
    coded from their code points, mixed with splitmix64, and permuted by multiply-shift
    hashing ``(a·x + b) >> 32`` with odd ``a``.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
    n = len(forms)
    out = np.empty((n, num_perm), dtype=np.uint32)
    start = 0
    while start < n:
        # a block of documents with at most ~40k shingles: temporaries stay near 5 MB
        block: list[str] = []
        total = 0
        while start + len(block) < n and (not block or total < 40_000):
            s = forms[start + len(block)][:MAX_SHINGLED_CHARS].ljust(k, "\x00")
            block.append(s)
            total += len(s)
        out[start : start + len(block)] = _block_signatures(block, k, a, b)
        start += len(block)
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
    min_length: int = DEFAULT_MIN_LENGTH,
    k: int = DEFAULT_SHINGLE,
    num_perm: int = DEFAULT_NUM_PERM,
    bands: int = DEFAULT_BANDS,
) -> dict[int, str]:
    """``{index: cluster id}``: leader clusters of near-duplicate texts
    (:func:`near_duplicate_texts`), each member a near-duplicate of its representative.

    Texts with the same normal form are one node (so huge groups of one short text cost
    nothing); nodes are taken in order of their smallest id. Between nodes at least
    ``min_length`` characters long, MinHash + LSH banding find candidate pairs, the
    signature agreement screens them (≥ threshold − 0.1, over two standard errors below at
    128 permutations), and the exact Jaccard similarity of the shingle sets decides.
    """
    nodes, edges = text_graph(
        ids, texts, threshold=threshold, min_length=min_length, k=k, num_perm=num_perm, bands=bands
    )
    rep = _leaders(len(nodes), edges)
    members: dict[int, list[int]] = defaultdict(list)
    for v, r in enumerate(rep):
        members[r].extend(nodes[v])
    return _cluster_ids(ids, list(members.values()))


def text_graph(
    ids: Sequence[str],
    texts: Sequence[str],
    *,
    threshold: float = DEFAULT_TEXT_THRESHOLD,
    min_length: int = DEFAULT_MIN_LENGTH,
    k: int = DEFAULT_SHINGLE,
    num_perm: int = DEFAULT_NUM_PERM,
    bands: int = DEFAULT_BANDS,
) -> tuple[list[list[int]], list[tuple[int, int, float]]]:
    """The near-duplicate graph :func:`text_clusters` clusters: nodes (the indices of the
    texts sharing one normal form, in order of their smallest id; empty forms left out) and
    the confirmed near-duplicate pairs of nodes with their Jaccard similarity."""
    by_form: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        form = normalize_text(text)
        if form:
            by_form[form].append(i)
    keyed = sorted((min(ids[i] for i in m), form, m) for form, m in by_form.items())
    del by_form
    forms = [form for _, form, _ in keyed]
    long = [v for v, form in enumerate(forms) if len(form) >= max(min_length, 1)]
    edges: list[tuple[int, int, float]] = []
    if len(long) >= 2:
        sig = _signatures([forms[v] for v in long], k=k, num_perm=num_perm)
        codes = _candidate_pairs(sig, bands, screen=threshold - 0.1)
        del sig
        for code in codes.tolist():
            i, j = divmod(code, len(long))
            sim = _similarity(forms[long[i]], forms[long[j]], threshold, min_length, k)
            if sim is not None:
                edges.append((long[i], long[j], sim))
    return [m for _, _, m in keyed], edges


def image_clusters(
    ids: Sequence[str], phashes: Sequence[str], *, max_distance: int = DEFAULT_IMAGE_DISTANCE
) -> dict[int, str]:
    """``{index: cluster id}``: leader clusters (in id order) of images whose 64-bit phashes
    differ from their representative's in ≤ max_distance bits."""
    n = len(phashes)
    if n < 2:
        return {}
    order = sorted(range(n), key=lambda i: (ids[i], phashes[i]))
    values = [int(phashes[i], 16) for i in order]
    segments = max_distance + 1
    bounds = [round(64 * s / segments) for s in range(segments + 1)]
    close: dict[tuple[int, int], int] = {}
    for s in range(segments):
        lo, hi = bounds[s], bounds[s + 1]
        mask = (1 << (hi - lo)) - 1
        buckets: dict[int, list[int]] = defaultdict(list)
        for p, v in enumerate(values):
            buckets[(v >> lo) & mask].append(p)
        for bucket in buckets.values():
            for x, p in enumerate(bucket):
                for q in bucket[x + 1 :]:
                    d = (values[p] ^ values[q]).bit_count()
                    if d <= max_distance:
                        close[p, q] = d
    rep = _leaders(n, ((p, q, -float(d)) for (p, q), d in close.items()))
    members: dict[int, list[int]] = defaultdict(list)
    for p, r in enumerate(rep):
        members[r].append(order[p])
    return _cluster_ids(ids, list(members.values()))
