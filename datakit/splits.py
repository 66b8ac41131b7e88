"""Split assignment: a pure function of (item ids, groups, clusters, hashes, strata, ratios, seed).

The algorithm, so that every engine (this one on numpy, the Spark one as DataFrame jobs that
call the same placement function on the driver) gives the identical assignment:

1. **Cross-group near-duplicates** (``splits.cross_group_near_duplicates``). A near-duplicate
   cluster whose members carry two or more group values *bridges* those groups. Its *home*
   group is the one holding most of its members (ties: the group whose member has the
   smallest item hash). With ``exclude`` (the default) the members outside the home group
   are left out of the release and listed; with ``ignore`` they stay but their cluster link
   is not followed (the leakage figure counts them); with ``together`` every link is kept,
   as before (one unit may then swallow most of the data).
2. **Units.** Items that share an exact content hash (``sha256``), a group value (speaker,
   document, …) or a near-duplicate cluster are joined (connected components). A unit never
   straddles two splits.
3. **Unit key.** Every item gets ``stable_hash64(f"{seed}:{id}")`` (FNV-1a 64 over the UTF-8
   bytes, then the splitmix64 finaliser). A unit's key is the minimum over its members, so it
   does not depend on input order.
4. **Stratum.** A unit's stratum is the most common stratum value among its members (ties:
   the smallest value; null is its own stratum).
5. **Large units first** (:func:`place_large_units`). Within each stratum, the units larger
   than ``LARGE_UNIT_SHARE`` of the smallest split's target are placed one by one, largest
   first (ties: unit key), each in the split with the largest remaining deficit, counted in
   its stratum plus over all strata placed so far (ties: the stratum's deficit, then split
   order): the stratum keeps its ratios, and rounding in many small strata cannot add up.
6. **The rest in key order.** The remaining units of a stratum are walked by key; a unit goes
   to the split whose cumulative interval holds the midpoint of the unit's item range, the
   intervals being the splits' remaining deficits. Each split then misses its share by at
   most about one small unit, i.e. ``LARGE_UNIT_SHARE`` of its smallest target.

A unit that is larger than what its split still needed *overflows*; it is reported with its
size, and the package stage refuses a release whose shares miss ``splits.tolerance``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

SPLIT_ORDER: tuple[str, ...] = ("train", "validation", "test")

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _mix64(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser: spreads FNV's low-entropy high bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = h ^ (h >> np.uint64(31))
    return out


def stable_hash64(
    values: pa.Array | pa.ChunkedArray | Sequence[str | None], seed: int
) -> npt.NDArray[np.uint64]:
    """64-bit hash of ``f"{seed}:{value}"`` for each string, vectorised (no Python loop per row).

    Null strings hash like the empty string. Returns a ``uint64`` numpy array.
    """
    arr = (
        values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.string())
    )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    arr = pc.fill_null(arr.cast(pa.large_string()), "")
    n = len(arr)
    h: npt.NDArray[np.uint64] = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in f"{seed}:".encode():
            h = (h ^ np.uint64(b)) * _FNV_PRIME
        if n == 0:
            return h
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
        data = (
            np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        )
        starts = offsets[:-1]
        lengths = offsets[1:] - starts
        distinct = np.unique(lengths)
        if len(distinct) <= 64:
            # Few distinct lengths (ids usually share one): hash each length's rows as a
            # (rows, length) byte matrix, one vectorised step per byte column.
            for length in distinct.tolist():
                rows = None if len(distinct) == 1 else np.flatnonzero(lengths == length)
                first = starts if rows is None else starts[rows]
                if length == 0:
                    continue
                mat: npt.NDArray[np.uint8]
                if rows is None:  # one length: the bytes are already an (n, length) matrix
                    mat = data[offsets[0] : offsets[0] + n * length].reshape(n, length)
                else:
                    mat = data[first[:, None] + np.arange(length)]
                hh = h if rows is None else h[rows]
                for j in range(length):
                    hh = (hh ^ mat[:, j].astype(np.uint64)) * _FNV_PRIME
                if rows is None:
                    h = hh
                else:
                    h[rows] = hh
            return _mix64(h)
        active = np.arange(n)
        j = 0
        while True:
            active = active[lengths[active] > j]
            if active.size == 0:
                break
            byte = data[starts[active] + j].astype(np.uint64)
            h[active] = (h[active] ^ byte) * _FNV_PRIME
            j += 1
        return _mix64(h)


def hex64_prefix_rows(
    values: pa.Array | pa.ChunkedArray,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """(first 64 bits, is-a-digest) per row of a string column: a row is a digest when it
    is 64 characters long and its first 16 are hex. The prefix is 0 for other rows."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    n = len(arr)
    prefix: npt.NDArray[np.uint64] = np.zeros(n, dtype=np.uint64)
    ok: npt.NDArray[np.bool_] = np.zeros(n, dtype=bool)
    if n == 0 or not pa.types.is_string(arr.type):
        return prefix, ok
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    lengths = np.diff(offsets)
    valid = np.ones(n, dtype=bool) if not arr.null_count else _valid(arr)
    rows = np.flatnonzero(valid & (lengths == 64))
    if rows.size == 0:
        return prefix, ok
    data = np.frombuffer(bufs[2], dtype=np.uint8)
    if rows.size == n and offsets[-1] - offsets[0] == 64 * n:  # all digests: a plain reshape
        head = data[offsets[0] : offsets[-1]].reshape(n, 64)[:, :16]
    else:
        head = data[offsets[rows][:, None] + np.arange(16)]
    # Two big-endian words of 8 characters each, parsed eight characters at a time.
    words = np.ascontiguousarray(head).view(">u8").astype(np.uint64)
    values, good = _hex_words(words[:, 0])
    low, good_low = _hex_words(words[:, 1])
    values = (values << np.uint64(32)) | low
    good &= good_low
    prefix[rows[good]] = values[good]
    ok[rows[good]] = True
    return prefix, ok


def _bytes8(b: int) -> np.uint64:
    return np.uint64(b * 0x0101010101010101)


def _hex_words(w: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """(value, is-hex) of words holding 8 ASCII characters, most significant first: the
    vectorised ``int(chars, 16)``, one byte lane per character (SWAR), so no per-byte table
    lookups. A character counts as hex when it is 0-9, a-f or A-F."""
    high = _bytes8(0x80)
    ascii_ok = (w & high) == 0
    x = w & _bytes8(0x7F)  # lanes below 0x80: the additions below never carry across lanes
    lower = x | _bytes8(0x20)  # 'A'-'F' → 'a'-'f'; digits keep their code
    digit = ((x + _bytes8(0x80 - 0x30)) & ~(x + _bytes8(0x7F - 0x39))) & high
    alpha = ((lower + _bytes8(0x80 - 0x61)) & ~(lower + _bytes8(0x7F - 0x66))) & high
    good = ascii_ok & ((digit | alpha) == high)
    # '0'-'9' → 0-9, 'a'-'f' / 'A'-'F' → 10-15 (bit 6 marks a letter), then pack the nibbles.
    v = (x & _bytes8(0x0F)) + np.uint64(9) * ((x >> np.uint64(6)) & _bytes8(0x01))
    v = (v | (v >> np.uint64(4))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v | (v >> np.uint64(8))) & np.uint64(0x0000FFFF0000FFFF)
    v = (v | (v >> np.uint64(16))) & np.uint64(0x00000000FFFFFFFF)
    return v, good


def _valid(arr: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)


def hex64_prefix(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint64] | None:
    """The first 64 bits of each value of a column of 64-character hex digests (sha256), or
    None unless every value is one."""
    prefix, ok = hex64_prefix_rows(values)
    if len(ok) == 0 or not ok.all():
        return None
    return prefix


def sha256_codes(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64] | None:
    """Codes for a column of sha256 hex digests from their first 64 bits, without a hash
    table of the strings (a 5M-row dictionary costs ~0.5 GB). Returns None unless every
    value is a 64-character hex string. A shared 64-bit prefix of two different digests
    (odds ~n²/2⁶⁵) only joins two units, which never causes leakage."""
    prefix = hex64_prefix(values)
    if prefix is None:
        return None
    _, codes = np.unique(prefix, return_inverse=True)
    return np.asarray(codes, dtype=np.int64).reshape(len(prefix))


def dictionary_codes(
    values: pa.Array | pa.ChunkedArray,
) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """(dense integer code per row, -1 for null; the distinct values in code order). A column
    that is dictionary-encoded already keeps its codes."""
    encoded = pa.types.is_dictionary(values.type)
    enc = values if encoded else pc.dictionary_encode(values)
    if isinstance(enc, pa.ChunkedArray):
        value_type = values.type.value_type if encoded else values.type
        enc = (
            enc.combine_chunks()
            if enc.num_chunks
            else pa.array([], pa.dictionary(pa.int32(), value_type))
        )
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), np.int64)
    return codes, enc.dictionary


def _codes(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Dense integer code per distinct non-null value, -1 for null."""
    return dictionary_codes(values)[0]


def connected_units(key_codes: Sequence[npt.NDArray[np.int64]], n: int) -> npt.NDArray[np.int64]:
    """Component label per item, items joined when they share a code in any key column.

    Min-label propagation with pointer jumping; labels are item positions (input-order
    dependent), callers derive order-free keys from them.
    """
    comp: npt.NDArray[np.int64] = np.arange(n, dtype=np.int64)
    keys = [c for c in key_codes if c.size and (c >= 0).any()]
    while True:
        before = comp.copy()
        for codes in keys:
            has = codes >= 0
            if not has.any():
                continue
            m = np.full(int(codes.max()) + 1, n, dtype=np.int64)
            np.minimum.at(m, codes[has], comp[has])
            comp[has] = np.minimum(comp[has], m[codes[has]])
        while True:  # pointer jumping: point every item at its label's label
            nxt = comp[comp]
            if np.array_equal(nxt, comp):
                break
            comp = np.asarray(nxt, dtype=np.int64)
        if np.array_equal(before, comp):
            return comp


def split_names(ratios: Mapping[str, float]) -> list[str]:
    return [s for s in SPLIT_ORDER if ratios.get(s, 0) > 0]


def stratum_ranks(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Rank of each row's stratum value in string order (null counts as ""), so that ties
    between strata break on the smallest value whatever the input order."""
    strat = pc.fill_null(values.cast(pa.string()), "")
    enc = pc.dictionary_encode(strat)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    rank = np.argsort(np.argsort(np.asarray(enc.dictionary.to_pylist(), dtype=object)))
    return np.asarray(rank[np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)])


def unit_key_codes(
    table: pa.Table, columns: Sequence[str] = ("sha256", "group", "near_dup_cluster")
) -> list[npt.NDArray[np.int64]]:
    """Integer codes (-1 for null) of the unit columns, in ``columns`` order; a column that
    ``table`` lacks is all null."""
    codes = []
    for c in columns:
        if c not in table.column_names:
            codes.append(np.full(table.num_rows, -1, dtype=np.int64))
            continue
        fast = sha256_codes(table.column(c)) if c == "sha256" else None
        codes.append(fast if fast is not None else _codes(table.column(c)))
    return codes


_BUCKET_BITS = 22  # 4M buckets: a 32 MB count table


def maybe_repeated(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Ascending positions of the values that may occur more than once: every repeated
    value's rows, plus some unique ones that share a hash bucket with another value. Sorting
    this subset instead of all values is what makes the unit and leakage checks cheap when,
    as usual, nearly every key is unique."""
    n = values.size
    if n < 2:
        return np.zeros(0, np.int64)
    # uint64 keys are hashes or digest prefixes already; integer codes get mixed first.
    mixed = values if values.dtype == np.uint64 else _mix64(values.astype(np.int64).view(np.uint64))
    bits = min(_BUCKET_BITS, max(1, int(n - 1).bit_length() + 2))
    bucket = (mixed >> np.uint64(64 - bits)).astype(np.int64)
    counts = np.bincount(bucket, minlength=1 << bits)
    return np.flatnonzero(counts[bucket] > 1)


def preload() -> None:
    """Import scipy's graph routines on a thread: the import takes about 0.3 s of Python
    work, which then overlaps with pass one's reading (Arrow code that releases the GIL)
    instead of delaying :func:`components`."""
    import threading

    def load() -> None:
        import scipy.sparse.csgraph  # noqa: F401

    threading.Thread(target=load, name="scipy-import", daemon=True).start()


def components(keys: Sequence[npt.NDArray[Any]], n: int) -> npt.NDArray[np.int64]:
    """Component label per item, items joined when they share a key value in any key
    column (``-1`` — or, for unsigned keys, a ``False`` in the matching mask — is null).

    Each column links every run of equal values to its first member; scipy's connected
    components then labels the graph. Labels are numbered in order of each component's
    first item, like :func:`connected_units`.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    src: list[npt.NDArray[np.int64]] = []
    dst: list[npt.NDArray[np.int64]] = []
    for key in keys:
        values, valid = key if isinstance(key, tuple) else (key, key >= 0)
        idx = np.flatnonzero(valid)
        idx = idx[maybe_repeated(values[idx])]  # only a repeated value links items
        if idx.size < 2:
            continue
        order = idx[np.argsort(values[idx], kind="stable")]
        v = values[order]
        same = v[1:] == v[:-1]
        if not same.any():
            continue
        run_start = np.r_[True, ~same]
        first = order[np.flatnonzero(run_start)][np.cumsum(run_start) - 1]
        linked = first != order
        src.append(first[linked])
        dst.append(order[linked])
    if not src:
        return np.arange(n, dtype=np.int64)
    a, b = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # Renumber by first member so labels do not depend on scipy's traversal details.
    first_seen = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first_seen, labels, np.arange(n, dtype=np.int64))
    return np.asarray(first_seen[labels], dtype=np.int64)


def _order_by(primary: npt.NDArray[np.int64], secondary: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.lexsort((secondary, primary))``, as two stable argsorts: the secondary key first,
    then the primary (stratum ranks, few) in a narrow integer type, which numpy radix-sorts.
    About twice as fast as lexsort on a million uint64 keys; the order is the same."""
    order = np.argsort(secondary, kind="stable")
    top = int(primary.max()) if primary.size else 0
    narrow = primary[order].astype(np.int16 if top < 2**15 else np.int64)
    return order[np.argsort(narrow, kind="stable")]


LARGE_UNIT_SHARE = 0.1  # a unit above this share of its stratum's smallest split target is "large"
CrossGroupPolicy = Literal["exclude", "ignore", "together"]
CROSS_GROUP_POLICIES: tuple[str, ...] = ("exclude", "ignore", "together")


def split_weights(ratios: Mapping[str, float]) -> npt.NDArray[np.float64]:
    """The ratios of :func:`split_names`, normalised to sum to 1."""
    w = np.array([ratios[s] for s in split_names(ratios)], dtype=np.float64)
    return np.asarray(w / w.sum(), dtype=np.float64)


def large_unit_threshold(stratum_total: int, ratios: Mapping[str, float]) -> float:
    """Units of more items than this (in a stratum of ``stratum_total`` items) are placed
    first, by :func:`place_large_units`."""
    return float(LARGE_UNIT_SHARE * float(split_weights(ratios).min()) * stratum_total)


@dataclass(frozen=True)
class Placement:
    """What :func:`place_large_units` decided: the split of each large unit, how many items
    it put beyond what that split still needed (0 when it fitted), and per stratum the
    cumulative bounds of the remaining deficits, which the walk over the small units uses."""

    splits: list[int]
    excess: list[float]
    bounds: dict[Any, list[float]]


def place_large_units(
    strata_totals: Mapping[Any, int],
    large: Sequence[tuple[Any, int, int]],
    ratios: Mapping[str, float],
) -> Placement:
    """Place the large units ``(stratum, size, unit key)`` and derive the small-unit bounds.

    A pure function of its arguments, called by both engines on the driver: strata are
    visited in sorted order (the local engine's stratum ranks and the Spark engine's stratum
    strings sort alike), large units largest first (ties: key), each into the split with the
    largest remaining deficit in its stratum plus over all strata so far (ties: the stratum's
    deficit, then split order)."""
    w = split_weights(ratios)
    k = len(w)
    global_deficit = np.zeros(k, dtype=np.float64)  # over the strata visited so far
    by_stratum: dict[Any, list[int]] = {}
    for i, (st, _size, _key) in enumerate(large):
        by_stratum.setdefault(st, []).append(i)
    splits = [0] * len(large)
    excess = [0.0] * len(large)
    bounds: dict[Any, list[float]] = {}
    for st in sorted(strata_totals):
        deficit = w * float(strata_totals[st])
        global_deficit += deficit
        placed = 0.0
        for i in sorted(by_stratum.get(st, ()), key=lambda i: (-large[i][1], large[i][2])):
            size = float(large[i][1])
            j = max(range(k), key=lambda j: (deficit[j] + global_deficit[j], deficit[j], -j))
            splits[i] = j
            excess[i] = max(0.0, size - max(0.0, float(deficit[j])))
            deficit[j] -= size
            global_deficit[j] -= size
            placed += size
        room = np.clip(deficit, 0.0, None)
        share = room / room.sum() if room.sum() > 0 else w
        bounds[st] = [float(b) for b in np.cumsum(share)[:-1]]
        # the small units will fill the room in these shares: count them in before the next
        # stratum, so only what this stratum really over- or under-fills carries over
        global_deficit -= share * (float(strata_totals[st]) - placed)
    return Placement(splits, excess, bounds)


def bridging_members(
    group: tuple[npt.NDArray[Any], npt.NDArray[np.bool_]],
    cluster: tuple[npt.NDArray[Any], npt.NDArray[np.bool_]],
    item_hash: npt.NDArray[np.uint64],
) -> npt.NDArray[np.bool_]:
    """Items of a near-duplicate cluster that lies across groups and that are not in the
    cluster's home group (the group holding most of its members; ties: the group whose member
    has the smallest item hash). Items without a group or a cluster never bridge."""
    gv, g_ok = group
    cv, c_ok = cluster
    n = len(item_hash)
    out: npt.NDArray[np.bool_] = np.zeros(n, dtype=bool)
    both = np.flatnonzero(g_ok & c_ok)
    if both.size < 2:
        return out
    both = both[maybe_repeated(cv[both])]  # a cluster seen once bridges nothing
    if both.size < 2:
        return out
    c = dictionary_np(cv[both])
    g = dictionary_np(gv[both])
    h = item_hash[both]
    # (cluster, group) runs: member count and smallest member hash
    order = np.lexsort((h, g, c))
    cs, gs, hs = c[order], g[order], h[order]
    run = np.r_[True, (cs[1:] != cs[:-1]) | (gs[1:] != gs[:-1])]
    starts = np.flatnonzero(run)
    count = np.diff(np.r_[starts, cs.size])
    run_c, run_g, run_h = cs[starts], gs[starts], hs[starts]  # hs sorted within a run: min
    groups_per_cluster = np.bincount(run_c)
    bridged = groups_per_cluster[run_c] > 1
    if not bridged.any():
        return out
    # home run per cluster: most members, then smallest member hash
    best = np.lexsort((run_h, -count, run_c))
    first = np.r_[True, run_c[best][1:] != run_c[best][:-1]]
    home_group = np.full(int(run_c.max()) + 1, -1, dtype=np.int64)
    home_group[run_c[best][first]] = run_g[best][first]
    away = (groups_per_cluster[c] > 1) & (g != home_group[c])
    out[both[away]] = True
    return out


def dictionary_np(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Dense codes of a numpy key array (equal values, equal codes)."""
    _, inv = np.unique(values, return_inverse=True)
    return np.asarray(inv, dtype=np.int64).reshape(len(values))


@dataclass
class Assignment:
    """The split of every item (index into ``split_names``; -1: left out of the release as a
    cross-group near-duplicate), its unit key, and the large units as placed: their
    component label (an item position), size, stratum, split and excess."""

    item_split: npt.NDArray[np.int64]
    unit_key: npt.NDArray[np.uint64]
    excluded: npt.NDArray[np.bool_]
    large_units: list[dict[str, Any]]
    units: int
    components: npt.NDArray[np.int64]


def assign_split_indices(
    item_hash: npt.NDArray[np.uint64],
    keys: Sequence[Any],
    item_stratum: npt.NDArray[np.int64] | None,
    ratios: Mapping[str, float],
    *,
    cross_group: CrossGroupPolicy = "exclude",
) -> Assignment:
    """The assignment on plain arrays. ``item_hash`` is ``stable_hash64(ids, seed)``;
    ``keys`` the (values, valid) pairs of sha256, group and near-duplicate cluster, as for
    :func:`components`; ``item_stratum`` from :func:`stratum_ranks` (None: one stratum)."""
    n = len(item_hash)
    excluded: npt.NDArray[np.bool_] = np.zeros(n, dtype=bool)
    keys = [k if isinstance(k, tuple) else (k, k >= 0) for k in keys]
    if cross_group != "together" and len(keys) >= 3:
        away = bridging_members(keys[1], keys[2], item_hash)
        if away.any():
            cv, c_ok = keys[2]
            if cross_group == "exclude":
                excluded = away
                keys = [(v, ok & ~away) for v, ok in keys]  # excluded items link nothing
            else:  # ignore: keep the items, do not follow their cluster link
                keys = [*keys[:2], (cv, c_ok & ~away), *keys[3:]]
    comp = components(keys, n)
    if item_stratum is None:
        item_stratum = np.zeros(n, dtype=np.int64)
    live = np.flatnonzero(~excluded)

    # Order-free unit key: the smallest member hash.
    unit_key = np.full(n, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(unit_key, comp[live], item_hash[live])
    key = unit_key[comp]

    # Majority stratum per unit: sort items by (unit, stratum), count runs.
    lc, ls = comp[live], item_stratum[live]
    order = np.lexsort((ls, lc))
    c_sorted, s_sorted = lc[order], ls[order]
    run_start = np.r_[True, (c_sorted[1:] != c_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])]
    starts = np.flatnonzero(run_start)
    run_len = np.diff(np.r_[starts, live.size])
    run_comp, run_strat = c_sorted[starts], s_sorted[starts]
    del order, c_sorted, s_sorted, run_start, starts, lc, ls  # peak memory
    # Best run per unit: largest count, then smallest stratum code.
    best = np.lexsort((run_strat, -run_len, run_comp))
    first = np.r_[True, run_comp[best][1:] != run_comp[best][:-1]]
    chosen = best[first]
    unit_comp = run_comp[chosen]  # sorted unit labels
    unit_stratum = run_strat[chosen]
    unit_size = np.bincount(comp[live], minlength=n)[unit_comp]
    unit_k = unit_key[unit_comp]
    del best, first, chosen, run_len, run_comp, run_strat, unit_key

    # Large units first, by the shared placement function.
    totals = np.bincount(unit_stratum, weights=unit_size)
    strata = np.flatnonzero(totals > 0)
    thresholds = np.zeros(totals.size)
    for st in strata.tolist():
        thresholds[st] = large_unit_threshold(int(totals[st]), ratios)
    is_large = unit_size > thresholds[unit_stratum]
    large_idx = np.flatnonzero(is_large)
    placement = place_large_units(
        {int(st): int(totals[st]) for st in strata.tolist()},
        [(int(unit_stratum[u]), int(unit_size[u]), int(unit_k[u])) for u in large_idx.tolist()],
        ratios,
    )
    unit_split = np.zeros(unit_comp.size, dtype=np.int64)
    unit_split[large_idx] = np.asarray(placement.splits, dtype=np.int64)

    # The rest: within each stratum, walk units by key against the remaining deficits.
    small = np.flatnonzero(~is_large)
    if small.size:
        s_strat, s_key = unit_stratum[small], unit_k[small]
        u_order = small[_order_by(s_strat, s_key)]
        st, sz = unit_stratum[u_order], unit_size[u_order].astype(np.float64)
        cum = np.cumsum(sz)
        new_stratum = np.r_[True, st[1:] != st[:-1]]
        grp = np.cumsum(new_stratum) - 1
        base = np.r_[0.0, cum][np.flatnonzero(new_stratum)][grp]
        total = np.bincount(grp, weights=sz)[grp]
        mid = (cum - base - sz / 2.0) / total
        split_sorted = np.zeros(u_order.size, dtype=np.int64)
        heads = np.flatnonzero(new_stratum)
        ends = np.r_[heads[1:], u_order.size]
        for h0, h1 in zip(heads.tolist(), ends.tolist(), strict=True):
            b = np.asarray(placement.bounds[int(st[h0])], dtype=np.float64)
            split_sorted[h0:h1] = np.searchsorted(b, mid[h0:h1], side="right")
        unit_split[u_order] = split_sorted
        del st, sz, cum, new_stratum, grp, base, total, mid

    split_of_comp = np.zeros(n, dtype=np.int64)
    split_of_comp[unit_comp] = unit_split
    item_split = split_of_comp[comp]
    item_split[excluded] = -1
    large_units = [
        {
            "component": int(unit_comp[u]),
            "key": int(unit_k[u]),
            "size": int(unit_size[u]),
            "stratum": int(unit_stratum[u]),
            "split": int(placement.splits[i]),
            "excess": float(placement.excess[i]),
        }
        for i, u in enumerate(large_idx.tolist())
    ]
    return Assignment(item_split, key, excluded, large_units, int(unit_comp.size), comp)


def assign_splits(
    table: pa.Table,
    *,
    ratios: Mapping[str, float],
    seed: int,
    cross_group: CrossGroupPolicy = "exclude",
) -> pa.Table:
    """Assign every row of ``table`` to a split.

    ``table`` has a string column ``id`` (unique) and optional string columns ``sha256``,
    ``group``, ``near_dup_cluster`` (units) and ``stratum``. Returns a table with the input's
    row order and columns ``id``, ``unit`` (the unit key, uint64) and ``split`` (null for an
    item left out as a cross-group near-duplicate).
    """
    n = table.num_rows
    names = split_names(ratios)
    if n == 0:
        return pa.table(
            {
                "id": pa.array([], pa.string()),
                "unit": pa.array([], pa.uint64()),
                "split": pa.array([], pa.string()),
            }
        )
    got = assign_split_indices(
        stable_hash64(table.column("id"), seed),
        unit_key_codes(table),
        stratum_ranks(table.column("stratum")) if "stratum" in table.column_names else None,
        ratios,
        cross_group=cross_group,
    )
    split_arr = pa.DictionaryArray.from_arrays(
        pa.array(got.item_split.astype(np.int32), mask=got.excluded),
        pa.array(names, pa.string()),
    ).cast(pa.string())
    return pa.table({"id": table.column("id"), "unit": pa.array(got.unit_key), "split": split_arr})
