"""``datakit package --engine spark`` against the local engine, on a real local Spark.

Every test packages the same project with both engines and compares what they wrote: the
split of every item (read back from the shards), the figures in metadata.json and the rows,
schema and schema metadata of every shard. The Spark release must pass ``verify``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datakit.errors import InputError, ReleaseError
from datakit.io import read_json
from datakit.package.run import package
from datakit.package.verify import verify_release
from datakit.project import Project
from tests.package.builders import make_ready_project, write_quality

# metadata.json parts both engines must write identically (everything but the engine name,
# the file list with its checksums, and the documents' change history)
SAME = ("dataset", "task", "counts", "splits", "leakage", "quality", "fields", "columns", "pii")
SAME_PROVENANCE = (
    "sources",
    "collection_period",
    "annotation",
    "spec_sha256",
    "manifest_sha256",
    "labels_sha256",
    "consensus_sha256",
)


def _copy(project: Project, suffix: str = "-spark") -> Project:
    copy = project.root.parent / (project.root.name + suffix)
    shutil.copytree(project.root, copy, ignore=shutil.ignore_patterns("releases", ".datakit"))
    return Project(copy)


def _both(project: Project, **kw: Any) -> tuple[Path, Path]:
    """Package ``project`` with the local engine and a copy of it with Spark."""
    other = _copy(project)
    local = package(project, engine="local", **kw)
    spark = package(other, engine="spark", **kw)
    return local.path, spark.path


def _splits(release: Path) -> dict[str, str]:
    """item id → split, read back from the shards' id columns."""
    out: dict[str, str] = {}
    for p in sorted((release / "data").glob("*.parquet")):
        split = p.name.split("-", 1)[0]
        ids = pq.read_table(p, columns=["id"]).column("id").to_pylist()
        out.update((i, split) for i in ids)
    return out


def _assert_same_release(local: Path, spark: Path) -> dict[str, Any]:
    a: dict[str, Any] = read_json(local / "metadata.json")
    b: dict[str, Any] = read_json(spark / "metadata.json")
    for key in SAME:
        assert a[key] == b[key], key
    for key in SAME_PROVENANCE:
        assert a["provenance"][key] == b["provenance"][key], key
    assert a["release"] | {"engine": "spark"} == b["release"]
    assert a["release"]["engine"] == "local"
    # The same shards (names, row counts), each with the same rows in the same order and
    # the same schema, Hugging Face features included.
    assert {s: [x["rows"] for x in v] for s, v in a["shards"].items()} == {
        s: [x["rows"] for x in v] for s, v in b["shards"].items()
    }
    for shards in a["shards"].values():
        for s in shards:
            ta, tb = pq.read_table(local / s["path"]), pq.read_table(spark / s["path"])
            assert tb.schema.equals(ta.schema, check_metadata=True), s["path"]
            assert tb.equals(ta), s["path"]
    # Written by the same writer, whose bytes depend only on the rows (not on how each
    # engine chunks them), shards and copied files are byte-identical.
    content = ("data/", "files/")
    assert {f["path"]: f["sha256"] for f in b["files"] if f["path"].startswith(content)} == {
        f["path"]: f["sha256"] for f in a["files"] if f["path"].startswith(content)
    }
    report = verify_release(spark)
    assert report.ok, [str(p) for p in report.problems]
    assert _splits(spark) == _splits(local)
    return b


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


CLASSES = ("긍정", "부정", "중립")


@pytest.mark.parametrize(
    "case",
    ["sha256-hashes", "other-hashes", "many-shards", "several-partitions"],
)
def test_text_split_per_item_and_figures_match_local(
    spark: Any, make_project: Callable[..., Path], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups chained together by near-duplicate clusters, exact duplicates under other ids
    (hex digests compare on their first 64 bits, other values whole), three strata, items
    not ok or without a label record, label records without an item. Small data runs in
    one shuffle partition; ``several-partitions`` forces the code paths of large data
    (range-partitioned running totals, adaptive execution)."""
    if case == "several-partitions":
        import datakit.package.spark_splits as spark_splits

        monkeypatch.setattr(spark_splits, "ROWS_PER_PARTITION", 60)
    project = make_ready_project(
        make_project,
        n=420,
        group=lambda i: f"g{i % 37}" if i % 3 == 0 else None,
        cluster=lambda i: f"c{i % 23}" if i % 7 == 0 else None,
        sha=(lambda i: f"h{i % 380}") if case == "other-hashes" else (lambda i: _sha(i % 380)),
        label_of=lambda i: CLASSES[(i * 5 // 2) % 3],
        order=[(i * 211) % 420 for i in range(420)],  # manifest order ≠ id order
        quality=None,
    )
    _not_ok_unlabelled_orphan(project)
    write_quality(project)
    local, spark_release = _both(project, rows_per_shard=23 if case == "many-shards" else None)
    meta = _assert_same_release(local, spark_release)
    assert meta["release"]["engine"] == "spark"
    assert 100 < meta["splits"]["units"] < 400  # units join items
    assert meta["counts"]["total"] == 418
    assert meta["counts"]["skipped"] == {"not_ok": 1, "unlabelled": 1, "labels_not_released": 2}
    assert len(meta["shards"]["train"]) == (15 if case == "many-shards" else 1)


def _not_ok_unlabelled_orphan(project: Project) -> None:
    """Item 0 not ok, item 1 without a label record, a record for an unknown item."""
    table = pq.read_table(project.paths.manifest)
    ids = table.column("id").to_pylist()
    status = table.column("status").to_pylist()
    status[ids.index("item-0000000")] = "quarantined"
    table = table.set_column(table.schema.get_field_index("status"), "status", pa.array(status))
    pq.write_table(table, project.paths.manifest)
    lines = project.paths.labels.read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in lines if '"id":"item-0000001"' not in ln]
    orphan = json.loads(kept[0]) | {"id": "no-such-item"}
    kept.insert(5, json.dumps(orphan, ensure_ascii=False))
    project.paths.labels.write_text("\n".join(kept) + "\n", encoding="utf-8")


def test_majority_stratum_ties_go_to_the_smallest_value(
    spark: Any, make_project: Callable[..., Path]
) -> None:
    """Every unit is a pair with two different labels: each stratum is decided by a tie."""
    project = make_ready_project(
        make_project,
        n=300,
        group=lambda i: f"pair{i // 2}",
        label_of=lambda i: CLASSES[(i // 2 + i % 2) % 3],
    )
    local, spark_release = _both(project)
    meta = _assert_same_release(local, spark_release)
    assert meta["splits"]["units"] == 150


def test_spans_with_groups_match_local(spark: Any, make_project: Callable[..., Path]) -> None:
    """NER: span classes counted once per item holding them; units by source (group)."""
    project = make_ready_project(make_project, "ner", n=90, cluster=lambda i: f"c{i % 4}")
    # two sources, two units: 8:1:1 is out of reach, the deviation is accepted (and equal)
    local, spark_release = _both(project, accept_split_deviation=True)
    meta = _assert_same_release(local, spark_release)
    assert meta["splits"]["group"] == "source"
    assert sum(meta["counts"]["splits"].values()) == 90


@pytest.mark.parametrize("media", ["embed", "reference"])
def test_images_embedded_or_referenced_match_local(
    spark: Any, make_project: Callable[..., Path], media: str
) -> None:
    project = make_ready_project(
        make_project, "image_classification", n=40, sha=lambda i: _sha(i % 36)
    )
    local, spark_release = _both(project, media=media)
    meta = _assert_same_release(local, spark_release)
    assert meta["release"]["media"] == media
    if media == "reference":
        files = sorted(p.name for p in spark_release.glob("files/*/*"))
        assert len(files) == 40 and files[0] == "item-0000000.png"
    else:
        import datasets

        ds = datasets.load_dataset("parquet", data_dir=str(spark_release / "data"))
        assert type(ds["train"].features["image"]).__name__ == "Image"
        assert ds["train"][0]["image"].size == (72, 72)  # decoded by PIL
        assert sum(len(ds[s]) for s in ds) == 40


def test_datasets_loads_a_spark_text_release(spark: Any, make_project: Callable[..., Path]) -> None:
    import datasets

    project = make_ready_project(make_project, n=50)
    result = package(project, engine="spark")
    ds = datasets.load_dataset("parquet", data_dir=str(result.path / "data"))
    assert {s: len(ds[s]) for s in ds} == result.splits
    features = ds["train"].features
    assert features["annotation_ids"].feature.dtype == "int64"
    assert features["n_annotators"].dtype == "int32"
    row = ds["train"][0]
    assert row["label"] in CLASSES and row["text"].startswith(row["text"][:3])


# -- the bundled examples --------------------------------------------------------------------


def _label_collected(
    project: Project, label: Callable[[int, dict[str, Any]], dict[str, Any]]
) -> None:
    """labels.jsonl for the project's collected (ok) items, and a passing quality.json."""
    from datakit.records import item_fields, ordered_record
    from datakit.tables import read_manifest, write_label_records

    rows = [r for r in read_manifest(project.paths.manifest).to_pylist() if r["status"] == "ok"]
    records = [
        ordered_record({**item_fields(row, project.spec), **label(i, row)}, project.spec)
        for i, row in enumerate(rows)
    ]
    write_label_records(project.paths.labels, records)
    write_quality(project)


def test_review_sentiment_example(
    spark: Any, example_project: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    """The real collect output: duplicates set aside, near-duplicate clusters, masked PII."""
    root = example_project("review-sentiment")
    res = cli("collect", "-p", root, str(root / "data/raw/reviews.csv"))
    assert res.exit_code == 0, res.output
    project = Project(root)
    _label_collected(project, lambda i, row: {"label": row["intake_label"], "difficulty": "보통"})
    local, spark_release = _both(project)
    meta = _assert_same_release(local, spark_release)
    assert meta["counts"]["total"] == 305 and meta["counts"]["skipped"]["not_ok"] == 7
    assert meta["pii"]["items_with_findings"] == 6


def test_road_objects_example(
    spark: Any,
    example_project: Callable[[str], Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Images embedded, boxes counted per class, the collected images set aside left out."""
    root = example_project("road-objects")
    monkeypatch.chdir(root)
    res = cli("collect", "data/raw/images")
    assert res.exit_code == 0, res.output
    project = Project(root)
    classes = project.spec.task.class_names

    def boxes(i: int, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "objects": [
                {
                    "label": classes[(i + k) % 3],
                    "x": 5.0 * k,
                    "y": 9.5,
                    "width": 20.0,
                    "height": 15.5,
                }
                for k in range(1 + i % 3)
            ]
        }

    _label_collected(project, boxes)
    local, spark_release = _both(project, accept_failed_check=True)
    meta = _assert_same_release(local, spark_release)
    assert meta["counts"]["total"] == 36 and meta["counts"]["skipped"]["not_ok"] == 4


# -- errors and the command line ------------------------------------------------------------


def _error_of(project: Project, engine: str, **kw: Any) -> InputError | ReleaseError:
    with pytest.raises((InputError, ReleaseError)) as exc:
        package(project, engine=engine, **kw)
    assert not list(project.paths.releases.glob("*"))  # nothing left behind
    err = exc.value
    assert isinstance(err, InputError | ReleaseError)
    return err


_COPIES = itertools.count()


def _same_error(project: Project, **kw: Any) -> InputError | ReleaseError:
    local = _error_of(project, "local", **kw)
    spark = _error_of(_copy(project, f"-err{next(_COPIES)}"), "spark", **kw)
    assert type(spark) is type(local)
    assert (spark.message, spark.hint) == (local.message, local.hint)
    if isinstance(local, InputError):
        assert isinstance(spark, InputError)
        assert (spark.file, spark.item, spark.field) == (local.file, local.item, local.field)
    return spark


def test_bad_inputs_fail_as_locally(spark: Any, make_project: Callable[..., Path]) -> None:
    project = make_ready_project(make_project, n=30, quality=None)
    labels = project.paths.labels
    good = labels.read_text(encoding="utf-8")
    lines = good.splitlines()
    # an item labelled twice
    labels.write_text("\n".join([*lines, lines[3]]) + "\n", encoding="utf-8")
    write_quality(project)
    err = _same_error(project)
    assert err.item == "item-0000003" and err.field == "id"  # type: ignore[union-attr]
    # a value that does not fit its field's type
    bad = json.loads(lines[7]) | {"label": 5}
    labels.write_text("\n".join([*lines[:7], json.dumps(bad), *lines[8:]]) + "\n", "utf-8")
    write_quality(project)
    err = _same_error(project)
    assert err.item == "item-0000007" and err.field == "label"  # type: ignore[union-attr]
    # nothing both collected and labelled
    labels.write_text(good.replace('"id":"item-', '"id":"other-'), encoding="utf-8")
    write_quality(project)
    assert "no item is both collected" in _same_error(project).message


def test_missing_source_image_fails_as_locally(
    spark: Any, make_project: Callable[..., Path]
) -> None:
    project = make_ready_project(make_project, "image_classification", n=12)
    (project.root / "data/source/item-0000005.png").unlink()
    err = _same_error(project, accept_split_deviation=True)  # 12 items cannot make 8:1:1
    assert err.item == "item-0000005" and err.file == "data/source/item-0000005.png"  # type: ignore[union-attr]


def test_cli_package_engine_spark(
    spark: Any, make_project: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    project = make_ready_project(make_project, n=40)
    res = cli("package", "-p", project.root, "--engine", "spark", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["total"] == 40 and out["leakage"]["total"] == 0
    assert read_json(Path(out["path"]) / "metadata.json")["release"]["engine"] == "spark"
    assert project.stage_record("package")["summary"]["engine"] == "spark"  # type: ignore[index]
    res = cli("verify", out["path"])
    assert res.exit_code == 0, res.output


def test_cli_package_engine_spark_without_pyspark(
    make_project: Callable[..., Path], runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pyspark: exit 2 with the install hint, no traceback, no release left behind."""
    import sys

    from datakit.cli.app import app

    project = make_ready_project(make_project, n=20)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` raises ImportError
    res = runner.invoke(app, ["package", "-p", str(project.root), "--engine", "spark"])
    assert res.exit_code == 2, res.output
    assert "pip install 'datakit[spark]'" in res.output and "Traceback" not in res.output
    assert not list(project.paths.releases.glob("*"))


# -- a million items -------------------------------------------------------------------------


def write_million(project: Project, n: int, chunk: int = 250_000) -> None:
    """Manifest, labels.jsonl and consensus for ``n`` text items, built with Arrow compute
    chunk by chunk. Every 10th item is in a group of 5, every 50th in a near-duplicate
    cluster of 4 (so units of 20 items), every 97th repeats another item's text (same
    sha256); three classes; the manifest is not in id order."""
    from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA

    paths = project.paths
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.annotations.mkdir(parents=True, exist_ok=True)
    mw = pq.ParquetWriter(paths.manifest, MANIFEST_SCHEMA, compression="zstd")
    cw = pq.ParquetWriter(paths.annotations / "consensus.parquet", CONSENSUS_SCHEMA)
    with paths.labels.open("wb") as lf:
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk), dtype=np.int64)
            idx = (idx * 7919) % n  # a permutation of 0..n-1 (7919 is prime, n is not its multiple)
            m = len(idx)
            num = pa.array(idx).cast(pa.string())
            ids = pc.binary_join_element_wise("m", pc.utf8_lpad(num, 8, "0"), "")
            same_text = np.where(idx % 97 == 0, idx // 97, idx)  # every 97th: another's text
            texts = pc.binary_join_element_wise(
                "리뷰 문장 ", pa.array(same_text).cast(pa.string()), ""
            )
            digests = pa.array([hashlib.sha256(t).hexdigest() for t in _utf8(texts)])
            group = pc.if_else(
                pa.array(idx % 10 == 0),
                pc.binary_join_element_wise("g", pa.array(idx // 50).cast(pa.string()), ""),
                pa.nulls(m, pa.string()),
            )
            cluster = pc.if_else(
                pa.array(idx % 50 == 0),
                pc.binary_join_element_wise("c", pa.array(idx // 50 % 5000).cast(pa.string()), ""),
                pa.nulls(m, pa.string()),
            )
            labels = pa.array(np.array(CLASSES)[(idx * 31) % 3])
            sources = pa.array(np.where(idx % 2 == 0, "쇼핑몰A", "쇼핑몰B"))
            cols: dict[str, Any] = {f.name: pa.nulls(m, f.type) for f in MANIFEST_SCHEMA}
            cols.update(
                id=ids,
                source_path=pc.binary_join_element_wise("raw/reviews.csv#row=", num, ""),
                text=texts,
                sha256=digests,
                size=pc.binary_length(texts).cast(pa.int64()),
                media_type=pa.array(["text/plain"] * m),
                source=sources,
                collected_at=pa.array(["2026-10-01T00:00:00+00:00"] * m),
                status=pa.array(["ok"] * m),
                near_dup_cluster=cluster,
                group=group,
            )
            mw.write_table(pa.table(cols, schema=MANIFEST_SCHEMA))
            q = pa.scalar('"', pa.string())
            line = pc.binary_join_element_wise(
                '{"id":',
                q,
                ids,
                q,
                ',"text":',
                q,
                texts,
                q,
                ',"source":',
                q,
                sources,
                q,
                ',"label":',
                q,
                labels,
                q,
                ',"difficulty":"보통"}\n',
                "",
            )
            lf.write("".join(line.to_pylist()).encode())
            cw.write_table(
                pa.table(
                    {
                        "item_id": ids,
                        "method": pa.array(["unanimous"] * m),
                        "n_annotators": pa.array(np.full(m, 2, np.int32)),
                        "annotation_ids": pa.nulls(m, pa.list_(pa.int64())),
                        "annotators": pa.nulls(m, pa.list_(pa.string())),
                        "agreement": pa.array(np.where(idx % 4 == 0, 0.5, 1.0)),
                        "decided_by": pa.nulls(m, pa.string()),
                        "needs_review": pa.array(np.zeros(m, bool)),
                    },
                    schema=CONSENSUS_SCHEMA,
                )
            )
    mw.close()
    cw.close()
    write_quality(project)


def _utf8(values: pa.Array) -> list[bytes]:
    return [v.encode() for v in values.to_pylist()]


def _id_split(release: Path) -> pa.Table:
    parts = []
    for p in sorted((release / "data").glob("*.parquet")):
        ids = pq.read_table(p, columns=["id"]).column("id")
        parts.append(pa.table({"id": ids, "split": pa.array([p.name.split("-")[0]] * len(ids))}))
    table = pa.concat_tables(parts)
    return table.sort_by("id")


@pytest.mark.slow
def test_a_million_items_split_identically(
    spark: Any, make_project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """≥1,000,000 items: the split of every item is identical (read back from both
    releases' shards), and so are the figures. Prints both engines' times."""
    n = int(os.environ.get("DATAKIT_SPARK_TEST_ITEMS", "1000000"))
    assert n >= 1_000_000 or "DATAKIT_SPARK_TEST_ITEMS" in os.environ
    root = make_project(name="million")
    from datakit.plan.run import plan

    spec_path = root / "datakit.yaml"
    spec_path.write_text(
        spec_path.read_text(encoding="utf-8").replace(
            '  version: "1.0"\n', '  version: "1.0"\n  release_date: "2026-11-01"\n', 1
        ),
        encoding="utf-8",
    )
    plan(Project(root))
    project = Project(root)
    write_million(project, n)
    other = _copy(project)
    t0 = time.perf_counter()
    local = package(project, engine="local")
    t1 = time.perf_counter()
    remote = package(other, engine="spark")
    t2 = time.perf_counter()
    with capsys.disabled():
        print(f"\n{n:,} items: local {t1 - t0:.1f} s, spark local[2] {t2 - t1:.1f} s")
    a, b = _id_split(local.path), _id_split(remote.path)
    ma, mb = read_json(local.path / "metadata.json"), read_json(remote.path / "metadata.json")
    # clusters that cross groups leave their copies out (the same ones in both engines)
    assert a.num_rows == b.num_rows == n - ma["splits"]["excluded"]
    assert b.equals(a)
    if ma["splits"]["excluded"]:
        listed = (local.path / "excluded.csv").read_bytes()
        assert listed == (remote.path / "excluded.csv").read_bytes()
    for key in ("counts", "splits", "leakage", "pii"):
        assert ma[key] == mb[key], key
    assert ma["provenance"]["annotation"] == mb["provenance"]["annotation"]
    assert mb["splits"]["units"] < n  # groups, clusters and duplicates joined items
    assert verify_release(remote.path).ok


# -- splits that meet the plan (large units first, cross-group near-duplicates) ---------------


def _recurring_project(make_project: Callable[..., Path], policy: str) -> Project:
    """Generic comments recurring under many groups (near-duplicate clusters across groups),
    with ``splits.cross_group_near_duplicates: policy``."""
    import random

    project = make_ready_project(
        make_project,
        n=900,
        group=lambda i: f"article-{(i * 37) % 60}",
        cluster=lambda i: f"generic-{random.Random(i).randrange(25)}" if i % 7 == 0 else None,
        label_of=lambda i: CLASSES[(i * 7) % 3],
    )
    spec = project.root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(
        text.replace("  seed: 42\n", f"  seed: 42\n  cross_group_near_duplicates: {policy}\n", 1),
        encoding="utf-8",
    )
    from datakit.plan.run import plan

    project = Project(project.root)
    plan(project)
    write_quality(project)
    return project


@pytest.mark.parametrize("policy", ["exclude", "ignore", "together"])
def test_cross_group_policies_and_large_units_match_local(
    spark: Any, make_project: Callable[..., Path], policy: str
) -> None:
    project = _recurring_project(make_project, policy)
    # together makes one unit of nearly everything: accepted, so both engines release it
    local, spark_release = _both(project, accept_split_deviation=policy == "together")
    meta = _assert_same_release(local, spark_release)
    sp = meta["splits"]
    assert (sp["excluded"] > 0) == (policy == "exclude")
    assert sp["within_tolerance"] == (policy != "together")
    if policy == "together":
        assert sp["large_units"][0]["n_clusters"] == 25 and sp["large_units"][0]["excess"] > 0
    if policy == "exclude":
        assert (local / "excluded.csv").read_bytes() == (
            spark_release / "excluded.csv"
        ).read_bytes()
    assert (meta["leakage"]["near_duplicate"] > 0) == (policy == "ignore")


@pytest.mark.slow
def test_real_corpus_split_matches_local(
    spark: Any, collected_hate_speech: list[dict[str, Any]], make_project: Callable[..., Path]
) -> None:
    """The shared corpus's comments under their 339 titles: the same assignment, the same
    left-out copies and the same split report from both engines."""
    from tests.fixtures.corpora import corpus_project

    project = corpus_project(make_project, collected_hate_speech)
    local, spark_release = _both(project)
    # Byte-identical shards: the engines feed the writer in different chunks (manifest
    # batches here, Spark's Arrow batches there), and its bytes depend only on the rows.
    meta = _assert_same_release(local, spark_release)
    assert meta["splits"]["within_tolerance"] and meta["leakage"]["total"] == 0
    assert (local / "excluded.csv").read_bytes() == (spark_release / "excluded.csv").read_bytes()
