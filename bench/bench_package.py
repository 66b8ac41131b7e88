"""Benchmark of the package stage, side by side with what a user would otherwise run.

    .venv/bin/python bench/bench_package.py            # 1M and 5M text items, 20,000 images
    .venv/bin/python bench/bench_package.py --quick    # 100k / 300k text items, 2,000 images

Each measurement runs in a fresh subprocess so that its peak memory (max RSS) is its own;
each tool runs ``--repeat`` times (default 3) and its fastest run counts.

* text: ``datakit package`` (gate, splits, leakage check, shards, metadata, documents,
  checksums; inputs as ``datakit check`` leaves them, label snapshot included — and once
  more without the snapshot) vs a plain ``pyarrow.parquet.write_table`` of the same table
  (the release's rows and columns, already in memory), vs the user's own pyarrow pipeline
  (read manifest + labels, join, write), vs ``datasets.Dataset.from_pandas(...).to_parquet``.
  Peak memory for 1M and 5M items.
* images: ``datakit package`` embedding ~1 GB of images vs copying the same files, and vs
  reading them into one output stream (the I/O an embedding release cannot avoid).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLASSES = ("긍정", "부정", "중립")
LEVELS = ("쉬움", "보통", "어려움")
WORDS = ("배송", "빠르고", "포장", "꼼꼼해요", "사이즈", "작아요", "색상", "보통", "재구매", "의사")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- inputs ------------------------------------------------------------------------------


def make_project(root: Path, template: str) -> Any:
    from datakit.plan.init import init_project
    from datakit.plan.run import plan
    from datakit.project import Project

    init_project(root, template=template, dataset_id="bench-" + template.replace("_", "-"))
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(
        text.replace('  version: "1.0"\n', '  version: "1.0"\n  release_date: "2026-11-01"\n', 1),
        encoding="utf-8",
    )
    project = Project(root)
    plan(project)
    return project


def write_text_inputs(project: Any, n: int, chunk: int = 500_000) -> None:
    """Manifest, labels.jsonl, consensus and a matching quality.json for n text items,
    written chunk by chunk (the setup itself stays small in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA
    from tests.package.builders import write_quality

    paths = project.paths
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.annotations.mkdir(parents=True, exist_ok=True)
    mw = pq.ParquetWriter(paths.manifest, MANIFEST_SCHEMA, compression="zstd")
    cw = pq.ParquetWriter(paths.annotations / "consensus.parquet", CONSENSUS_SCHEMA)
    with paths.labels.open("w", encoding="utf-8") as lf:
        for start in range(0, n, chunk):
            idx = range(start, min(n, start + chunk))
            ids = [f"r{i:08d}" for i in idx]
            texts = [
                " ".join(WORDS[(i * 7 + k) % 10] for k in range(4 + i % 12)) + f" {i}" for i in idx
            ]
            sources = ["쇼핑몰A" if i % 2 else "쇼핑몰B" for i in idx]
            labels = [CLASSES[(i * 31) % 3] for i in idx]
            m = len(ids)
            mw.write_table(_full_manifest(pa, MANIFEST_SCHEMA, ids, texts, sources, idx))
            lf.writelines(
                f'{{"id":"{a}","text":"{t}","source":"{s}","label":"{lab}",'
                f'"difficulty":"{LEVELS[i % 3]}"}}\n'
                for a, t, s, lab, i in zip(ids, texts, sources, labels, idx, strict=True)
            )
            cw.write_table(
                pa.table(
                    {
                        "item_id": ids,
                        "method": ["unanimous"] * m,
                        "n_annotators": pa.array([2] * m, pa.int32()),
                        "annotation_ids": [[2 * i, 2 * i + 1] for i in idx],
                        "annotators": pa.nulls(m, pa.list_(pa.string())),
                        "agreement": [1.0] * m,
                        "decided_by": pa.nulls(m, pa.string()),
                        "needs_review": [False] * m,
                    },
                    schema=CONSENSUS_SCHEMA,
                )
            )
    mw.close()
    cw.close()
    write_quality(project)
    write_check_snapshot(project)


def write_check_snapshot(project: Any) -> None:
    """What `datakit check` leaves for package besides quality.json: the label records as a
    columnar snapshot (datakit/label_table.py). The real check is not run here: its own
    cost is measured by bench_quality.py."""
    from datakit.io import sha256_file
    from datakit.label_table import write_snapshot

    assert write_snapshot(project, sha256_file(project.paths.labels))


def _full_manifest(
    pa: Any, schema: Any, ids: list[str], texts: list[str], sources: list[str], idx: range
) -> Any:
    import hashlib

    m = len(ids)
    cols: dict[str, Any] = {name: pa.nulls(m, schema.field(name).type) for name in schema.names}
    cols.update(
        id=pa.array(ids),
        source_path=pa.array([f"raw/{s}.csv#row={i}" for s, i in zip(sources, idx, strict=True)]),
        text=pa.array(texts),
        sha256=pa.array([hashlib.sha256(t.encode()).hexdigest() for t in texts]),
        size=pa.array([len(t.encode()) for t in texts], pa.int64()),
        media_type=pa.array(["text/plain"] * m),
        source=pa.array(sources),
        collected_at=pa.array(["2026-10-01T00:00:00+00:00"] * m),
        status=pa.array(["ok"] * m),
        near_dup_cluster=pa.array([f"c{i % 5000}" if i % 50 == 0 else None for i in idx]),
    )
    return pa.table(cols, schema=schema)


def write_image_inputs(project: Any, n: int, kb: int = 50) -> int:
    """n distinct JPEG files of about ``kb`` KB (noise images, made unique by trailing bytes
    after the end-of-image marker, which decoders ignore). Returns the total bytes."""
    import hashlib
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA
    from tests.package.builders import write_quality

    rng = np.random.default_rng(0)
    bases = []
    for _ in range(16):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)).save(
            buf, "JPEG", quality=95
        )
        bases.append(buf.getvalue())
    src = project.paths.source
    src.mkdir(parents=True, exist_ok=True)
    rows, labels, cons = [], [], []
    total = 0
    classes = project.spec.task.class_names
    for i in range(n):
        base = bases[i % len(bases)]
        pad = max(0, kb * 1024 - len(base))
        data = base + rng.bytes(pad) + i.to_bytes(8, "big")
        name = f"img{i:06d}.jpg"
        (src / name).write_bytes(data)
        total += len(data)
        rows.append(
            {
                "id": f"img{i:06d}",
                "source_path": f"raw/{name}",
                "stored_path": f"data/source/{name}",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "media_type": "image/jpeg",
                "width": 160,
                "height": 160,
                "source": "카메라A",
                "collected_at": "2026-10-01T00:00:00+00:00",
                "status": "ok",
            }
        )
        labels.append(
            json.dumps(
                {
                    "id": f"img{i:06d}",
                    "file_name": name,
                    "width": 256,
                    "height": 256,
                    "objects": [
                        {
                            "label": classes[i % len(classes)],
                            "x": 1.0,
                            "y": 2.0,
                            "width": 30.0,
                            "height": 40.0,
                        }
                    ],
                    "weather": "맑음",
                },
                ensure_ascii=False,
            )
        )
        cons.append(
            {
                "item_id": f"img{i:06d}",
                "method": "matched_boxes",
                "n_annotators": 2,
                "needs_review": False,
            }
        )
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), project.paths.manifest)
    project.paths.annotations.mkdir(parents=True, exist_ok=True)
    project.paths.labels.write_text("\n".join(labels) + "\n", encoding="utf-8")
    pq.write_table(
        pa.Table.from_pylist(cons, schema=CONSENSUS_SCHEMA),
        project.paths.annotations / "consensus.parquet",
    )
    write_quality(project)
    write_check_snapshot(project)
    return total


# -- workers (each runs in its own process) ----------------------------------------------


def _final_table(project: Any) -> Any:
    """The release's rows, built with plain pyarrow (what a user would write by hand)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    m = pq.read_table(project.paths.manifest, columns=["id", "text", "sha256", "source"])
    lab = pj.read_json(
        project.paths.labels,
        parse_options=pj.ParseOptions(
            explicit_schema=pa.schema(
                [("id", pa.string()), ("label", pa.string()), ("difficulty", pa.string())]
            ),
            unexpected_field_behavior="ignore",
        ),
    )
    cons = pq.read_table(
        project.paths.annotations / "consensus.parquet",
        columns=["item_id", "method", "n_annotators", "annotation_ids", "agreement"],
    )
    t = m.join(lab, "id")  # hash join on the id
    idx = pc.index_in(t.column("id"), value_set=cons.column("item_id"))
    for name in ("method", "n_annotators", "annotation_ids", "agreement"):
        t = t.append_column(name, pc.take(cons.column(name), idx))
    return t


def setup(kind: str, root: str, n: str) -> dict[str, Any]:
    """Build inputs in a child process, so the parent stays small: a child's peak RSS starts
    from its parent's RSS at fork time."""
    t0 = time.perf_counter()
    if kind == "setup-text":
        write_text_inputs(make_project(Path(root), "text_classification"), int(n))
        return {"seconds": time.perf_counter() - t0}
    total = write_image_inputs(make_project(Path(root), "object_detection"), int(n))
    return {"seconds": time.perf_counter() - t0, "bytes": total}


def worker(kind: str, root: str, out: str) -> dict[str, Any]:
    # Imports happen before the clock starts, for every tool alike (pyarrow.compute imports
    # pandas on its first call, so pandas is imported here too).
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.json
    import pyarrow.parquet

    import datakit.package.documents
    import datakit.package.metadata
    import datakit.package.run  # noqa: F401
    from datakit.project import Project

    base = _peak_mb()

    project = Project(root)
    # What an earlier run left is removed off the clock (runs repeat).
    if kind.startswith("datakit"):
        shutil.rmtree(project.paths.releases, ignore_errors=True)
    if kind == "copy":
        shutil.rmtree(Path(out) / "copy", ignore_errors=True)
    if kind == "concat":
        (Path(out) / "concat.bin").unlink(missing_ok=True)
    os.sync()  # every run starts without dirty pages left by the one before
    t0 = time.perf_counter()
    if kind in ("datakit", "datakit-parse"):
        from datakit.label_table import snapshot_path
        from datakit.package.run import package

        if kind == "datakit-parse":  # without check's snapshot: labels.jsonl is parsed
            hidden = snapshot_path(project).with_suffix(".hidden")
            snapshot_path(project).rename(hidden)
            t0 = time.perf_counter()
        try:
            package(project, version="bench")
        finally:
            if kind == "datakit-parse":
                hidden.rename(snapshot_path(project))
    elif kind == "pyarrow-write":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # The same table: the rows and columns of the release datakit just wrote.
        shards = sorted((project.paths.releases / "bench" / "data").glob("*.parquet"))
        table = pa.concat_tables(pq.read_table(p) for p in shards).replace_schema_metadata(None)
        t0 = time.perf_counter()  # only the write of the table already in memory
        pq.write_table(table, Path(out) / "plain.parquet", compression="zstd")
    elif kind == "pyarrow-pipeline":
        import pyarrow.parquet as pq

        pq.write_table(_final_table(project), Path(out) / "pipeline.parquet", compression="zstd")
    elif kind == "hf-datasets":
        import datasets

        datasets.disable_progress_bars()
        df = _final_table(project).to_pandas()
        t0 = time.perf_counter()  # from_pandas + to_parquet, as the issue names it
        datasets.Dataset.from_pandas(df, preserve_index=False).to_parquet(
            str(Path(out) / "hf.parquet")
        )
    elif kind == "copy":
        dest = Path(out) / "copy"
        dest.mkdir(parents=True)
        for p in sorted(project.paths.source.iterdir()):
            shutil.copyfile(p, dest / p.name)
    elif kind == "concat":  # the same bytes read file by file into one output stream
        with (Path(out) / "concat.bin").open("wb") as fh:
            for p in sorted(project.paths.source.iterdir()):
                fh.write(p.read_bytes())
    return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "import_mb": base}


REPEAT = 3


def run(kind: str, root: Path, out: Path) -> dict[str, Any]:
    """One run of ``kind`` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(root), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(kinds: list[str], root: Path, out: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """The fastest of ``repeat`` runs per tool (with the median of the runs as ``median``),
    the tools taking turns (A B C, A B C, …): this shared 2-core machine's speed drifts by
    ±20 % over minutes, and taking turns spreads the drift over every tool alike."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            runs[kind].append(run(kind, root, out))
    best: dict[str, dict[str, Any]] = {}
    for kind, results in runs.items():
        results.sort(key=lambda r: r["seconds"])
        best[kind] = {**results[0], "median": results[len(results) // 2]["seconds"]}
    return best


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes for development")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--sizes", type=int, nargs="+", help="text sizes (the first is compared)")
    ap.add_argument("--repeat", type=int, default=REPEAT, help="runs per tool (the best counts)")
    args = ap.parse_args()
    if args.worker:
        fn = setup if args.worker[0].startswith("setup-") else worker
        print(json.dumps(fn(*args.worker)))
        return
    sizes = args.sizes or ((100_000, 300_000) if args.quick else (1_000_000, 5_000_000))
    n_images = 2_000 if args.quick else 20_000
    tmp = Path(tempfile.mkdtemp(prefix="bench-package-"))
    try:
        mode = "quick" if args.quick else "full"
        print(f"# package stage benchmark ({mode}), {os.cpu_count()} CPUs")
        for i, n in enumerate(() if args.skip_text else sizes):
            root = tmp / f"text{n}"
            built = run("setup-text", root, Path(str(n)))
            print(f"\n## {n:,} text items (inputs built in {built['seconds']:.1f} s)")
            kinds = (
                ["datakit", "datakit-parse", "pyarrow-write", "pyarrow-pipeline", "hf-datasets"]
                if i == 0
                else ["datakit"]
            )
            res = best_of(kinds, root, tmp, args.repeat)
            head = f"{'tool':<22}{'best s':>10}{'median s':>10}{'peak MB':>10}"
            print(f"{head}{'after imports MB':>18}")
            for k, r in res.items():
                print(
                    f"{k:<22}{r['seconds']:>10.2f}{r['median']:>10.2f}{r['peak_mb']:>10.0f}"
                    f"{r['import_mb']:>18.0f}"
                )
            if i == 0:
                dk = res["datakit"]["seconds"]
                cold = res["datakit-parse"]["seconds"]
                print(f"datakit without check's label snapshot: {cold:.2f} s")
                dk_median = res["datakit"]["median"]
                for label, key in (
                    ("pyarrow write of the same table ", "pyarrow-write"),
                    ("user's pyarrow pipeline         ", "pyarrow-pipeline"),
                    ("datasets from_pandas+to_parquet ", "hf-datasets"),
                ):
                    print(
                        f"ratio datakit / {label}: {dk / res[key]['seconds']:.2f}x "
                        f"(medians {dk_median / res[key]['median']:.2f}x)"
                    )
            shutil.rmtree(root / "releases", ignore_errors=True)
        if not args.skip_images:
            root = tmp / "images"
            total = int(run("setup-images", root, Path(str(n_images)))["bytes"])
            print(f"\n## {n_images:,} images, {total / 1e9:.2f} GB")
            res = best_of(["datakit", "copy", "concat"], root, tmp, args.repeat)
            for k, r in res.items():
                mbps = total / 1e6 / r["seconds"]
                print(
                    f"{k:<22}{r['seconds']:>10.2f} s (median {r['median']:.2f} s) {mbps:>8.0f} MB/s"
                    f" {r['peak_mb']:>8.0f} MB peak"
                )
            baselines = (("copying the files", "copy"), ("one stream of the bytes", "concat"))
            for label, key in baselines:
                ratio = res["datakit"]["seconds"] / res[key]["seconds"]
                print(f"ratio datakit / {label}: {ratio:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
