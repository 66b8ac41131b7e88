"""``datakit check`` and ``datakit package --engine spark`` on a real Spark cluster.

A standalone master and two workers run on this machine (the ``cluster`` fixture); their
executors' Python has every third-party package but not datakit, so the jobs only work
because the driver ships datakit to them (``datakit.engine.ship_datakit``). Each test runs
the command line twice on copies of one project — the local engine, then ``--engine spark``
against ``spark://127.0.0.1:<port>`` — and compares what they wrote: quality.json (but its
time and engine), the error lists, and every release file by checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakit.project import Project
from datakit.tables import CONSENSUS_SCHEMA
from tests.package.builders import label_value, make_ready_project
from tests.spark.standalone import StandaloneCluster, executor_python

TIMINGS: dict[str, float] = {}

# The only release files whose bytes may differ between engines: metadata.json records the
# engine (release.engine) and when the check ran (quality.checked_at; comparable_metadata
# checks that nothing else differs); SHA256SUMS lists metadata.json's checksum.
MAY_DIFFER = {"metadata.json", "SHA256SUMS"}


def datakit(*args: str | Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datakit", *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def local_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MASTER", "DATAKIT_ENGINE")}


def cluster_env(cluster: StandaloneCluster) -> dict[str, str]:
    # A few shuffle partitions: Spark's default of 200 per shuffle makes a small project
    # run hundreds of empty tasks on two cores; and no waiting for a task's preferred
    # executor (both live on this machine).
    return cluster.driver_env(
        PYSPARK_SUBMIT_ARGS="--conf spark.sql.shuffle.partitions=4"
        " --conf spark.locality.wait=0s pyspark-shell"
    )


def apps(cluster: StandaloneCluster) -> set[str]:
    state = cluster.state()
    return {a["id"] for a in state.get("activeapps", []) + state.get("completedapps", [])}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def comparable_quality(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "reports" / "quality.json").read_text("utf-8"))
    assert data.pop("engine") in ("local", "spark")
    data.pop("generated_at")
    data["files"].pop("run")  # reports/runs/<time>
    return data


def comparable_metadata(root: Path) -> dict[str, Any]:
    (release,) = (root / "releases").iterdir()
    data: dict[str, Any] = json.loads((release / "metadata.json").read_text("utf-8"))
    assert data["release"].pop("engine") in ("local", "spark")
    data["quality"].pop("checked_at")
    return data


def release_files(root: Path) -> dict[str, str]:
    (release,) = (root / "releases").iterdir()
    return {
        p.relative_to(release).as_posix(): sha256(p)
        for p in sorted(release.rglob("*"))
        if p.is_file()
    }


def run_both(cluster: StandaloneCluster, root: Path, *options: str) -> dict[str, Any]:
    """check then package ``root`` with the local engine and a copy of it on the cluster;
    assert the same exit codes, quality reports and error lists; return what differs in
    the release (file → (local sha256, spark sha256))."""
    copy = root.parent / f"{root.name}-cluster"
    shutil.copytree(root, copy)
    before = apps(cluster)
    codes: dict[str, int] = {}
    for engine, where, env in (("local", root, local_env()), ("spark", copy, cluster_env(cluster))):
        t = time.perf_counter()
        checked = datakit(
            "check", "-p", where, "--engine", engine, "--no-validity", *options, env=env, cwd=where
        )
        TIMINGS[f"{root.name} check {engine}"] = time.perf_counter() - t
        assert checked.returncode in (0, 1), checked.stderr[-3000:]
        codes[engine] = checked.returncode
        accept = ["--accept-failed-check"] if checked.returncode else []
        t = time.perf_counter()
        packaged = datakit("package", "-p", where, "--engine", engine, *accept, env=env, cwd=where)
        TIMINGS[f"{root.name} package {engine}"] = time.perf_counter() - t
        assert packaged.returncode == 0, packaged.stderr[-3000:]
    assert codes["spark"] == codes["local"]

    # Both commands ran as applications of the cluster, with executors on both workers, and
    # each executor received the datakit zip.
    new = apps(cluster) - before
    assert len(new) == 2, new
    for app in new:
        for worker in ("0", "1"):
            executors = list((cluster.folder / "work" / worker / app).iterdir())
            assert executors, (app, worker)
            assert any(e.glob("datakit-*.zip") for e in executors), (app, worker)

    assert comparable_quality(copy) == comparable_quality(root)
    for csv in sorted((root / "reports").glob("*_오류목록.csv")):
        assert (copy / "reports" / csv.name).read_bytes() == csv.read_bytes(), csv.name

    local, spark = release_files(root), release_files(copy)
    assert spark.keys() == local.keys()
    differ = {k: (local[k], spark[k]) for k in local if local[k] != spark[k]}
    assert comparable_metadata(copy) == comparable_metadata(root)
    (release,) = (copy / "releases").iterdir()
    meta = json.loads((release / "metadata.json").read_text("utf-8"))
    assert meta["release"]["engine"] == "spark"
    print({k: f"{v:.1f} s" for k, v in TIMINGS.items() if k.startswith(root.name)})
    return differ


@pytest.fixture(scope="module")
def executor_py(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter like the cluster's executors' (tests/spark/standalone.py)."""
    return executor_python(tmp_path_factory.mktemp("executor-python"))


def probe_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_executor_python_cannot_import_datakit(executor_py: Path, tmp_path: Path) -> None:
    """The premise of the other tests: without the shipped zip the executors' Python finds
    pyspark, pyarrow and pandas, but not datakit."""
    probe = (
        "import pyspark, pyarrow, pandas, numpy\n"
        "try:\n    import datakit.engine\nexcept ImportError:\n    print('no datakit')\n"
    )
    done = subprocess.run(
        [str(executor_py), "-c", probe],
        env=probe_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no datakit"


def test_shipped_zip_is_datakit_for_the_executor_python(executor_py: Path, tmp_path: Path) -> None:
    """What ``ship_datakit`` adds: a zip of the driver's datakit (sources and data files, no
    bytecode) from which the executors' Python imports the Spark engine's modules."""
    import zipfile

    import datakit
    from datakit.engine import package_zip

    shipped = package_zip()
    names = zipfile.ZipFile(shipped).namelist()
    here = Path(datakit.__file__).parent
    assert "datakit/engine.py" in names and "datakit/plan/templates/ner.yaml" in names
    assert not [n for n in names if "__pycache__" in n]
    assert len([n for n in names if n.endswith(".py")]) == len(list(here.rglob("*.py")))
    probe = (
        "import datakit, datakit.engine, datakit.check.spark, datakit.package.spark\n"
        "print(datakit.__file__)\n"
    )
    done = subprocess.run(
        [str(executor_py), "-c", probe],
        env={**probe_env(), "PYTHONPATH": str(shipped)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"{shipped}/datakit/__init__.py"


@pytest.mark.slow
def test_generated_project_on_cluster_matches_local(
    cluster: StandaloneCluster, make_project: Callable[..., Path]
) -> None:
    project = make_ready_project(make_project, n=60, quality=None)
    differ = run_both(cluster, project.root)
    assert set(differ) <= MAY_DIFFER, differ


def corpus_slice_project(make_project: Callable[..., Path], n: int) -> Path:
    """The first ``n`` comments of the shared corpus collected (news title as group, so
    near-duplicate clusters and groups are real) into a planned project, with labels.jsonl
    and consensus.parquet over the real texts."""
    from datakit.collect.run import collect
    from datakit.collect.sources import Mapping
    from datakit.plan.run import plan
    from tests.fixtures.corpora import unlabeled_comments, write_comments_csv

    root = make_project("text_classification", name="comments")
    project = Project(root)
    plan(project)
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    csv_path = write_comments_csv(raw / "comments.csv", unlabeled_comments()[:n])
    collect(
        project,
        [csv_path],
        license="CC-BY-SA-4.0",
        consent="not_required",
        mapping=Mapping(group="title"),
    )
    spec = project.spec
    classes = spec.task.class_names
    manifest = pq.read_table(project.paths.manifest, columns=["id", "text", "source", "status"])
    labels, cons = [], []
    for i, row in enumerate(manifest.to_pylist()):
        if row["status"] != "ok":
            continue
        record: dict[str, Any] = {}
        for f in spec.fields:
            if f.name in row:
                record[f.name] = row[f.name]
            elif f.name == spec.task.label_field:
                record[f.name] = classes[sum(row["id"].encode()) % len(classes)]
            else:
                record[f.name] = label_value(spec, f.name, i, row["text"])
        labels.append(json.dumps(record, ensure_ascii=False))
        cons.append(
            {
                "item_id": row["id"],
                "method": "unanimous",
                "n_annotators": 2,
                "annotation_ids": [2 * i + 1, 2 * i + 2],
                "annotators": ["a@example.com", "b@example.com"],
                "agreement": 1.0,
                "decided_by": None,
                "needs_review": False,
            }
        )
    project.paths.annotations.mkdir(parents=True, exist_ok=True)
    project.paths.labels.write_text("\n".join(labels) + "\n", encoding="utf-8")
    pq.write_table(
        pa.Table.from_pylist(cons, schema=CONSENSUS_SCHEMA),
        project.paths.annotations / "consensus.parquet",
    )
    return root


@pytest.mark.slow
def test_real_corpus_slice_on_cluster_matches_local(
    cluster: StandaloneCluster, make_project: Callable[..., Path]
) -> None:
    root = corpus_slice_project(make_project, 1500)
    differ = run_both(cluster, root)
    print("release files that differ:", sorted(differ))
    assert set(differ) <= MAY_DIFFER, differ
