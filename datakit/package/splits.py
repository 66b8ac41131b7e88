"""Split assignment: a pure function of (item ids, groups, clusters, hashes, strata, ratios, seed).

The algorithm, so that any engine (this one on Arrow/numpy, a later one on Spark running the
same numpy code in a pandas UDF) gives the identical assignment:

1. **Units.** Items that share an exact content hash (``sha256``), a group value (speaker,
   document, …) or a near-duplicate cluster are joined (connected components). A unit never
   straddles two splits.
2. **Unit key.** Every item gets ``stable_hash64(f"{seed}:{id}")`` (FNV-1a 64 over the UTF-8
   bytes, then the splitmix64 finaliser). A unit's key is the minimum over its members, so it
   does not depend on input order.
3. **Stratum.** A unit's stratum is the most common stratum value among its members (ties:
   the smallest value; null is its own stratum).
4. **Assignment.** Within each stratum, units are ordered by key; walking them in that order,
   a unit goes to the split whose cumulative ratio interval holds the midpoint of the unit's
   item range. Ratios are met per stratum up to one unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
    """Integer codes (-1 for null) of the unit columns present in ``table``."""
    codes = []
    for c in columns:
        if c not in table.column_names:
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


def assign_split_indices(
    item_hash: npt.NDArray[np.uint64],
    keys: Sequence[Any],
    item_stratum: npt.NDArray[np.int64] | None,
    ratios: Mapping[str, float],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """The assignment on plain arrays: (split index into ``split_names(ratios)``, unit key)
    per item. ``item_hash`` is ``stable_hash64(ids, seed)``; ``keys`` as for
    :func:`components`; ``item_stratum`` from :func:`stratum_ranks` (None: one stratum)."""
    n = len(item_hash)
    names = split_names(ratios)
    comp = components(keys, n)
    if item_stratum is None:
        item_stratum = np.zeros(n, dtype=np.int64)

    # Order-free unit key: the smallest member hash.
    unit_key = np.full(n, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(unit_key, comp, item_hash)
    key = unit_key[comp]

    # Majority stratum per unit: sort items by (unit, stratum), count runs.
    order = np.lexsort((item_stratum, comp))
    c_sorted, s_sorted = comp[order], item_stratum[order]
    run_start = np.r_[True, (c_sorted[1:] != c_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])]
    starts = np.flatnonzero(run_start)
    run_len = np.diff(np.r_[starts, n])
    run_comp, run_strat = c_sorted[starts], s_sorted[starts]
    del order, c_sorted, s_sorted, run_start, starts  # peak memory: keep few n-sized arrays
    # Best run per unit: largest count, then smallest stratum code.
    best = np.lexsort((run_strat, -run_len, run_comp))
    first = np.r_[True, run_comp[best][1:] != run_comp[best][:-1]]
    chosen = best[first]
    unit_comp = run_comp[chosen]  # sorted unit labels
    unit_stratum = run_strat[chosen]
    unit_size = np.bincount(comp, minlength=n)[unit_comp]
    unit_k = unit_key[unit_comp]
    del best, first, chosen, run_len, run_comp, run_strat, unit_key

    # Within each stratum, walk units by key; the midpoint of each unit's item range decides.
    u_order = _order_by(unit_stratum, unit_k)
    st, sz = unit_stratum[u_order], unit_size[u_order].astype(np.float64)
    cum = np.cumsum(sz)
    new_stratum = np.r_[True, st[1:] != st[:-1]]
    grp = np.cumsum(new_stratum) - 1
    base = np.r_[0.0, cum][np.flatnonzero(new_stratum)][grp]
    total = np.bincount(grp, weights=sz)[grp]
    mid = (cum - base - sz / 2.0) / total
    weights = np.array([ratios[s] for s in names], dtype=np.float64)
    bounds = np.cumsum(weights / weights.sum())[:-1]
    unit_split_sorted = np.searchsorted(bounds, mid, side="right")
    del st, sz, cum, new_stratum, grp, base, total, mid
    unit_split = np.empty_like(unit_split_sorted)
    unit_split[u_order] = unit_split_sorted

    split_of_comp = np.zeros(n, dtype=np.int64)
    split_of_comp[unit_comp] = unit_split
    item_split = split_of_comp[comp]
    return item_split, key


def assign_splits(
    table: pa.Table,
    *,
    ratios: Mapping[str, float],
    seed: int,
) -> pa.Table:
    """Assign every row of ``table`` to a split.

    ``table`` has a string column ``id`` (unique) and optional string columns ``sha256``,
    ``group``, ``near_dup_cluster`` (units) and ``stratum``. Returns a table with the input's
    row order and columns ``id``, ``unit`` (the unit key, uint64) and ``split``.
    """
    n = table.num_rows
    names = split_names(ratios)
    if n == 0:
        return pa.table(
            {
                "id": pa.array([], pa.string()),
                "unit": pa.array([], pa.string()),
                "split": pa.array([], pa.string()),
            }
        )
    item_split, key = assign_split_indices(
        stable_hash64(table.column("id"), seed),
        unit_key_codes(table),
        stratum_ranks(table.column("stratum")) if "stratum" in table.column_names else None,
        ratios,
    )
    split_arr = pa.DictionaryArray.from_arrays(
        pa.array(item_split.astype(np.int32)), pa.array(names, pa.string())
    ).cast(pa.string())
    return pa.table({"id": table.column("id"), "unit": pa.array(key), "split": split_arr})
