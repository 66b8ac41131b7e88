"""Check-stage benchmarks, side by side with what a user would otherwise run.

1. census over N label records in one JSONL file (1,000,000 at full scale): datakit's
   census (fastjsonschema + orjson in several processes, jsonschema only for failing
   records) vs a plain ``jsonschema`` loop (json.loads + Draft202012Validator.iter_errors)
   — records/s and the ratio;
2. census over M per-item JSON files (200,000 at full scale): datakit vs the plain loop vs
   the ``check-jsonschema`` command users would otherwise run on the files;
3. the generated labels expectation suite over a K-row label table (10,000,000 at full
   scale, Parquet): datakit's batched GX run (bounded memory) vs Great Expectations run
   directly on the whole table loaded in memory — wall time, peak RSS of each (separate
   child processes, ru_maxrss) and the ratio (targets: datakit peak < 2.5 GB, time ≤ 1.3×).

The slow baselines run on a subset and are reported as a rate (their full runs would take
minutes); datakit always runs at full size. 0.5% of the records carry planted defects.

Usage: .venv/bin/python bench/bench_check.py [--quick] [--only census,files,gx]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datakit.labels import label_record_schema  # noqa: E402
from datakit.plan.artefacts import labels_suite  # noqa: E402
from datakit.plan.init import init_project  # noqa: E402
from datakit.project import Project  # noqa: E402
from tests.collect.helpers import WORDS  # noqa: E402  (the Korean word bank of the tests)

CLASSES = ("긍정", "부정", "중립")


def spec_and_schema(where: Path) -> tuple[Any, dict[str, Any]]:
    root = where / "proj"
    init_project(root, template="text_classification", dataset_id="bench-check")
    spec = Project(root).spec
    return spec, label_record_schema(spec)


def record(i: int, rng: random.Random) -> dict[str, Any]:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
    rec: dict[str, Any] = {
        "id": f"r{i:08d}",
        "text": text,
        "source": "쇼핑몰A" if i % 2 else "쇼핑몰B",
        "label": CLASSES[i % 3],
        "difficulty": ("쉬움", "보통", "어려움")[i % 3],
    }
    if i % 200 == 0:  # 0.5% planted defects across the three classes
        kind = (i // 200) % 3
        if kind == 0:
            rec["label"] = "모름"
        elif kind == 1:
            del rec["source"]
        else:
            rec["text"] = 42
    return rec


def write_jsonl(path: Path, n: int) -> None:
    rng = random.Random(1)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(record(i, rng), ensure_ascii=False) + "\n")


def plain_loop_lines(path: Path, schema: dict[str, Any], limit: int) -> tuple[int, int, float]:
    import jsonschema

    v = jsonschema.Draft202012Validator(schema)
    n = bad = 0
    t = time.perf_counter()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if n >= limit:
                break
            n += 1
            errors = list(v.iter_errors(json.loads(line)))
            bad += bool(errors)
    return n, bad, time.perf_counter() - t


def bench_census(n: int, tmp: Path, schema: dict[str, Any]) -> None:
    from datakit.check.census import census_jsonl, default_workers

    path = tmp / "labels.jsonl"
    t = time.perf_counter()
    write_jsonl(path, n)
    size = path.stat().st_size / 1e6
    print(f"  wrote {n:,} records ({size:.0f} MB) in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    res = census_jsonl(path, schema)
    dk = time.perf_counter() - t
    subset = min(n, 50_000)
    m, bad, base = plain_loop_lines(path, schema, subset)
    dk_rate, base_rate = n / dk, m / base
    print(
        f"  datakit census ({default_workers()} processes): {n:,} records in {dk:.2f} s = "
        f"{dk_rate:,.0f} rec/s; invalid {res.records - res.valid:,} "
        f"(형식/구조/파일 {res.counts()}), validator disagreements {res.disagreements}"
    )
    print(
        f"  plain jsonschema loop: {m:,} records in {base:.2f} s = {base_rate:,.0f} rec/s "
        f"(invalid {bad:,} of them)"
    )
    print(f"  ratio datakit / plain jsonschema: {dk_rate / base_rate:.1f}x  (aim >= 10x)")
    path.unlink()


def bench_files(n: int, tmp: Path, schema: dict[str, Any]) -> None:
    from datakit.check.census import census_files

    folder = tmp / "labels"
    folder.mkdir()
    rng = random.Random(2)
    t = time.perf_counter()
    files = []
    for i in range(n):
        p = folder / f"r{i:08d}.json"
        p.write_text(json.dumps(record(i, rng), ensure_ascii=False), encoding="utf-8")
        files.append(p)
    print(f"  wrote {n:,} per-item files in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    res = census_files(files, schema)
    dk = time.perf_counter() - t
    dk_rate = n / dk
    print(
        f"  datakit census: {n:,} files in {dk:.2f} s = {dk_rate:,.0f} files/s; invalid "
        f"{res.records - res.valid:,}, disagreements {res.disagreements}"
    )
    import jsonschema

    v = jsonschema.Draft202012Validator(schema)
    subset = files[: min(n, 20_000)]
    t = time.perf_counter()
    bad = sum(bool(list(v.iter_errors(json.loads(p.read_text(encoding="utf-8"))))) for p in subset)
    base = time.perf_counter() - t
    base_rate = len(subset) / base
    print(
        f"  plain jsonschema loop: {len(subset):,} files in {base:.2f} s = {base_rate:,.0f} "
        f"files/s (invalid {bad:,})"
    )
    schema_path = tmp / "label.schema.json"
    schema_path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    cj = Path(sys.executable).with_name("check-jsonschema")
    few = [str(p) for p in files[: min(n, 2_000)]]
    t = time.perf_counter()
    out = subprocess.run(
        [str(cj), "--schemafile", str(schema_path), "--disable-formats", "*", *few],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    cj_t = time.perf_counter() - t
    cj_rate = len(few) / cj_t
    print(
        f"  check-jsonschema: {len(few):,} files in {cj_t:.2f} s = {cj_rate:,.0f} files/s "
        f"(exit {out.returncode})"
    )
    print(
        f"  ratio datakit / plain jsonschema: {dk_rate / base_rate:.1f}x; "
        f"datakit / check-jsonschema: {dk_rate / cj_rate:.1f}x"
    )


GX_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
os.environ["TQDM_DISABLE"] = "1"
mode, parquet, suite_path, batch = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
suite = json.load(open(suite_path, encoding="utf-8"))
import great_expectations  # noqa: F401  (import time is not what we measure)
import pyarrow.parquet as pq
t = time.perf_counter()
if mode == "datakit":
    from datakit.check.expectations import Suite, manifest_batches, validate_batches
    s = Suite(suite["name"], "labels", suite_path, tuple(suite["expectations"]))
    outs = validate_batches(manifest_batches(parquet, batch), [s])
    summary = [(o.type, o.kwargs.get("column"), o.success, o.unexpected_count) for o in outs]
else:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    df = pq.read_table(parquet).to_pandas()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("p").add_dataframe_asset("t")
    bd = asset.add_batch_definition_whole_dataframe("b")
    gs = ctx.suites.add(gx.ExpectationSuite(name="s", expectations=suite["expectations"]))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=bd, suite=gs))
    res = vd.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    summary = [(r.expectation_config.type, r.expectation_config.kwargs.get("column"), r.success,
                (r.result or {}).get("unexpected_count")) for r in res.results]
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": dt, "peak": peak, "summary": sorted(map(str, summary))}))
"""


def bench_gx(n: int, tmp: Path, spec: Any) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp / "labels.parquet"
    rng = np.random.default_rng(3)
    t = time.perf_counter()
    writer = None
    step = 1_000_000
    texts = np.array(
        [" ".join(random.Random(k).choice(WORDS) for _ in range(6)) for k in range(997)]
    )
    for start in range(0, n, step):
        m = min(step, n - start)
        idx = np.arange(start, start + m)
        ids = np.char.add("r", idx.astype(str))
        label = np.array(CLASSES)[idx % 3].astype(object)
        label[idx % 1000 == 0] = "모름"
        table = pa.table({
            "id": ids, "text": texts[rng.integers(0, len(texts), m)],
            "source": np.where(idx % 2 == 0, "쇼핑몰A", "쇼핑몰B"),
            "label": label.astype(str),
            "difficulty": np.array(["쉬움", "보통", "어려움"])[idx % 3],
        })  # fmt: skip
        if writer is None:
            writer = pq.ParquetWriter(parquet, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=250_000)
    assert writer is not None
    writer.close()
    print(
        f"  wrote a {n:,}-row label table ({parquet.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t:.1f} s"
    )
    suite_path = tmp / "suite.json"
    suite_path.write_text(json.dumps(labels_suite(spec), ensure_ascii=False), encoding="utf-8")
    got = {}
    for mode in ("datakit", "gx"):
        out = subprocess.run(
            [sys.executable, "-c", GX_CHILD, str(REPO), mode, str(parquet), str(suite_path),
             str(1_000_000)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        got[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    for mode, label in (("datakit", "datakit (batches of 1M rows)"), ("gx", "GX on whole table")):
        g = got[mode]
        print(f"  {label}: {g['seconds']:.1f} s, peak RSS {g['peak'] / 1e9:.2f} GB")
    same = got["datakit"]["summary"] == got["gx"]["summary"]
    ratio = got["datakit"]["seconds"] / got["gx"]["seconds"]
    print(
        f"  same results: {same}; time ratio datakit / GX: {ratio:.2f}x (target <= 1.3x); "
        f"datakit peak {got['datakit']['peak'] / 1e9:.2f} GB (target < 2.5 GB); "
        f"memory ratio {got['datakit']['peak'] / got['gx']['peak']:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one tenth of the full scale")
    ap.add_argument("--only", default="census,files,gx")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    only = set(args.only.split(","))
    os.environ.setdefault("TQDM_DISABLE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-check-") as d:
        tmp = Path(d)
        spec, schema = spec_and_schema(tmp)
        if "census" in only:
            print(f"1. census over {1_000_000 // scale:,} JSONL label records")
            bench_census(1_000_000 // scale, tmp, schema)
        if "files" in only:
            print(f"2. census over {200_000 // scale:,} per-item JSON files")
            bench_files(200_000 // scale, tmp, schema)
        if "gx" in only:
            print(f"3. expectation suite over a {10_000_000 // scale:,}-row label table")
            bench_gx(10_000_000 // scale, tmp, spec)
    print(
        f"(machine: {os.cpu_count()} CPUs; max RSS of this process "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB)"
    )


if __name__ == "__main__":
    main()
