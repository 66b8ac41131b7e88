"""Split assignment: deterministic whatever the input order, grouped, stratified, leak-free."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datakit.package.leakage import leakage_figures
from datakit.splits import assign_splits, stable_hash64

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def _reference_hash(value: str, seed: int) -> int:
    """Plain-Python FNV-1a 64 + splitmix64 finaliser: what another engine must compute."""
    m = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for b in f"{seed}:{value}".encode():
        h = ((h ^ b) * 0x100000001B3) & m
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & m
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & m
    return h ^ (h >> 31)


def test_stable_hash_matches_the_reference_and_is_pinned() -> None:
    values = ["item-0000001", "", "한국어 항목", "a" * 300, None]
    got = stable_hash64(pa.array(values, pa.string()), 42).tolist()
    assert got == [_reference_hash(v or "", 42) for v in values]
    # Pinned so that a change of algorithm cannot slip through unnoticed.
    assert got[0] == _reference_hash("item-0000001", 42) == stable_hash64(["item-0000001"], 42)[0]
    assert stable_hash64(["x"], 1)[0] != stable_hash64(["x"], 2)[0]
    sliced = pa.array(["z", "item-0000001", "q"]).slice(1, 1)
    assert stable_hash64(sliced, 42).tolist() == [got[0]]


def _tempting(n: int = 3000) -> pa.Table:
    """Groups spread over many items, clusters that chain groups together, duplicate hashes
    under different ids, and labels that disagree inside a group."""
    rng = random.Random(5)
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"it-{i:05d}",
                "sha256": hashlib.sha256(str(i % 2700).encode()).hexdigest(),  # 300 exact dups
                "group": f"spk-{i % 400}" if i % 3 else None,
                "near_dup_cluster": f"c-{rng.randrange(150)}" if i % 11 == 0 else None,
                "stratum": ["긍정", "부정", "중립"][(i * 7) % 3],
            }
        )
    return pa.Table.from_pylist(rows)


def _as_dict(t: pa.Table) -> dict[str, str]:
    return dict(zip(t.column("id").to_pylist(), t.column("split").to_pylist(), strict=True))


def test_same_assignment_under_shuffled_input() -> None:
    table = _tempting()
    first = _as_dict(assign_splits(table, ratios=RATIOS, seed=42))
    for s in (1, 2, 3):
        perm = np.random.default_rng(s).permutation(table.num_rows)
        again = _as_dict(assign_splits(table.take(pa.array(perm)), ratios=RATIOS, seed=42))
        assert again == first
    other_seed = _as_dict(assign_splits(table, ratios=RATIOS, seed=43))
    assert other_seed != first  # the seed matters


@pytest.mark.parametrize("policy", ["exclude", "together"])
def test_no_group_cluster_or_hash_straddles_splits(policy: str) -> None:
    table = _tempting()
    split = assign_splits(table, ratios=RATIOS, seed=42, cross_group=policy).column("split")  # type: ignore[arg-type]
    t = table.append_column("split", split)
    released = t.filter(pc.is_valid(t["split"]))
    # exclude leaves the cross-group copies out; together keeps every item
    assert (released.num_rows < t.num_rows) == (policy == "exclude")
    figures = leakage_figures(
        released,
        keys={"exact_hash": "sha256", "near_duplicate": "near_dup_cluster", "group": "group"},
    )
    assert figures == {"exact_hash": 0, "near_duplicate": 0, "group": 0, "total": 0}
    # And the check itself does see leakage when it is there.
    broken = t.set_column(
        t.schema.get_field_index("split"),
        "split",
        pa.array(["train", "test", "validation"] * (t.num_rows // 3)),
    )
    assert leakage_figures(broken, keys={"group": "group"})["group"] > 0


def test_ratios_and_strata_are_met() -> None:
    n = 6000
    table = pa.table(
        {
            "id": [f"x{i}" for i in range(n)],
            "sha256": [f"h{i}" for i in range(n)],
            "stratum": [("a" if i % 10 < 7 else "b") for i in range(n)],
        }
    )
    got = assign_splits(table, ratios=RATIOS, seed=7).column("split").to_pylist()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for s, split in zip(table.column("stratum").to_pylist(), got, strict=True):
        per[s][split] += 1
    for stratum, counts in per.items():
        total = sum(counts.values())
        for split, ratio in RATIOS.items():
            assert abs(counts[split] - ratio * total) <= 1, (stratum, counts)


def test_two_way_ratios_and_empty_input() -> None:
    t = pa.table({"id": [f"i{k}" for k in range(100)]})
    got = Counter(
        assign_splits(t, ratios={"train": 0.9, "validation": 0.1}, seed=1)
        .column("split")
        .to_pylist()
    )
    assert got == {"train": 90, "validation": 10}
    empty = assign_splits(pa.table({"id": pa.array([], pa.string())}), ratios=RATIOS, seed=1)
    assert empty.num_rows == 0


@pytest.mark.parametrize("shuffle_seed", [11, 12])
def test_release_assignment_is_order_free(ready, tmp_path, shuffle_seed: int) -> None:  # type: ignore[no-untyped-def]
    from datakit.package.run import package

    n = 90
    kw = {
        "group": lambda i: f"g{i % 17}",
        "cluster": lambda i: f"c{i % 5}" if i % 13 == 0 else None,
    }
    a = ready(n=n, **kw)
    order = list(range(n))
    random.Random(shuffle_seed).shuffle(order)
    b_root = tmp_path / "shuffled"
    b_root.mkdir()
    import shutil

    shutil.copytree(a.root, b_root / "p", ignore=shutil.ignore_patterns("releases", ".datakit"))
    from tests.package.builders import build_inputs

    b = build_inputs(b_root / "p", n, order=order, **kw)

    def assignment(project) -> dict[str, str]:  # type: ignore[no-untyped-def]
        rel = package(project, accept_split_deviation=True)  # 90 items: coarse units
        out = {}
        for shard in sorted((rel.path / "data").glob("*.parquet")):
            split = shard.name.split("-")[0]
            out.update(
                dict.fromkeys(pq.read_table(shard, columns=["id"]).column("id").to_pylist(), split)
            )
        meta = json.loads((rel.path / "metadata.json").read_text(encoding="utf-8"))
        excluded = (rel.path / "excluded.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
        assert meta["splits"]["excluded"] == len(excluded) > 0  # clusters cross groups here
        assert not set(out) & {line.split(",")[0] for line in excluded}
        return out

    first, second = assignment(a), assignment(b)
    # c0 = {item 0 (g0), item 65 (g14)} and c3 = {13 (g13), 78 (g10)} bridge groups: one
    # copy of each is left out
    assert first == second and len(first) == n - 2


def test_sha256_codes_match_dictionary_codes() -> None:
    from datakit.splits import dictionary_codes, sha256_codes

    digests = [hashlib.sha256(str(i % 7).encode()).hexdigest() for i in range(50)]
    fast = sha256_codes(pa.array(digests))
    slow = dictionary_codes(pa.array(digests))[0]
    assert fast is not None
    # Same partition of the rows, whatever the code numbers.
    assert len(set(zip(fast.tolist(), slow.tolist(), strict=True))) == 7
    assert sha256_codes(pa.array(["not-a-digest"] * 3)) is None
    assert sha256_codes(pa.array(["g" * 64])) is None
    assert sha256_codes(pa.array([digests[0], None])) is None


def test_hex64_prefix_rows_equals_int_parsing() -> None:
    """The vectorised parse equals ``int(value[:16], 16)`` on digests, and rejects every row
    that is not 64 characters with 16 hex ones first (each hex-adjacent byte tried)."""
    import random

    from datakit.splits import hex64_prefix_rows

    rng = random.Random(7)
    hexdigits = "0123456789abcdefABCDEF"
    values: list[str | None] = [
        "".join(rng.choice(hexdigits) for _ in range(64)) for _ in range(2000)
    ]
    # One bad character at a random place among the first 16, of every non-hex ASCII code
    # and a few non-ASCII ones; bad characters after the 16th do not matter.
    for code in [c for c in range(1, 128) if chr(c) not in hexdigits] + [0xE9, 0xAC00]:
        good = values[code % 2000]
        assert good is not None
        pos = code % 16
        values.append(good[:pos] + chr(code) + good[pos + 1 :])
        values.append(good[:40] + chr(code) + good[41:])
    values += ["f" * 63, "f" * 65, None, "", "0" * 64, "F" * 64]
    arr = pa.array(values, pa.string())
    prefix, ok = hex64_prefix_rows(arr)

    def expected(v: str | None) -> tuple[int, bool]:
        # 64 bytes of UTF-8 (a sha256 hex digest), the first 16 of them hex digits
        if v is None or len(v.encode()) != 64 or any(ch not in hexdigits for ch in v[:16]):
            return 0, False
        return int(v[:16], 16), True

    got = list(zip(prefix.tolist(), ok.tolist(), strict=True))
    assert got == [expected(v) for v in values]
    # Non-contiguous rows (a slice, not every row 64 characters) take the gather path.
    part_prefix, part_ok = hex64_prefix_rows(arr.slice(1990))
    assert list(zip(part_prefix.tolist(), part_ok.tolist(), strict=True)) == [
        expected(v) for v in values[1990:]
    ]


def _digest(i: int) -> str:
    return hashlib.sha256(str(i % 60).encode()).hexdigest()


@pytest.mark.parametrize(
    "sha",
    [_digest, lambda i: "not-a-digest" if i % 60 == 7 else _digest(i)],
    ids=["digests", "one-non-digest"],
)
def test_release_assignment_equals_the_reference(ready, monkeypatch, sha) -> None:  # type: ignore[no-untyped-def]
    """The local engine's streaming assignment (hashed keys decided per value across small
    manifest batches, labels in another order than the manifest) gives each item the split
    the reference ``assign_splits`` gives it."""
    from datakit import release_keys
    from datakit.package.run import package

    monkeypatch.setattr(release_keys, "SCAN_BATCH_ROWS", 16)
    n = 150
    project = ready(
        n=n,
        group=lambda i: f"g{i % 23}" if i % 3 else None,
        cluster=lambda i: f"c{i % 7}" if i % 11 == 0 else None,
        sha=sha,
        label_of=lambda i: ("긍정", "부정", "중립")[(i * 7) % 3],
    )
    lines = project.paths.labels.read_text(encoding="utf-8").splitlines()
    project.paths.labels.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    from tests.package.builders import write_quality

    write_quality(project)
    manifest = pq.read_table(project.paths.manifest)
    labels = {r["id"]: r for r in map(json.loads, lines)}
    reference = assign_splits(
        pa.table(
            {
                "id": manifest.column("id"),
                "sha256": manifest.column("sha256"),
                "group": manifest.column("group"),
                "near_dup_cluster": manifest.column("near_dup_cluster"),
                "stratum": [labels[i]["label"] for i in manifest.column("id").to_pylist()],
            }
        ),
        ratios=project.spec.splits.ratios,
        seed=project.spec.splits.seed,
    )
    expected = {
        i: s
        for i, s in zip(
            reference.column("id").to_pylist(), reference.column("split").to_pylist(), strict=True
        )
        if s is not None  # left out: cross-group near-duplicates
    }
    rel = package(project, accept_split_deviation=True)  # exact duplicates join the groups
    got: dict[str, str] = {}
    for shard in sorted((rel.path / "data").glob("*.parquet")):
        ids = pq.read_table(shard, columns=["id"]).column("id").to_pylist()
        got.update(dict.fromkeys(ids, shard.name.split("-")[0]))
    assert got == expected
    assert len(set(expected.values())) == 3
    meta = json.loads((rel.path / "metadata.json").read_text(encoding="utf-8"))
    assert meta["leakage"]["total"] == 0
