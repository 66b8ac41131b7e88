"""Annotate-stage benchmark on a local Label Studio server, side by side with the plain
Label Studio SDK calls a user would otherwise write. datakit itself talks through the same
SDK (``LabelStudioClient`` wraps ``label_studio_sdk.LabelStudio``), so the ratios show what
datakit adds on top of the plain calls.

1. push: N text tasks. datakit ``annotate push`` (project + overlap settings, idempotent
   item-id keyed import, media/URL building) vs the SDK's ``projects.create`` +
   ``projects.import_tasks`` in the same batch size.
2. pull: N annotations (one per task). datakit ``annotate pull`` (streamed export,
   normalisation, annotations.parquet, consensus, agreement, labels.jsonl validated
   against the JSON Schema) vs the SDK's ``projects.exports.download_sync`` written to disk
   and parsed with ``json.load``.

Every phase runs in its own process; its wall time and peak RSS (psutil, sampled every
20 ms, and ru_maxrss) are printed, and the datakit/SDK ratios at the end.

Usage: .venv/bin/python bench/bench_annotate.py [--quick] [--n N]
       (env DATAKIT_BENCH_LS_URL + DATAKIT_BENCH_LS_TOKEN to use a running server)
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
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LABELS = ("긍정", "부정", "중립")


def _texts(n: int) -> list[str]:
    return [
        f"상품 리뷰 {i}번: 배송이 빠르고 포장이 꼼꼼해요. 재구매 의사 있습니다." for i in range(n)
    ]


def make_project(where: Path, name: str, n: int) -> Path:
    import hashlib

    import pyarrow as pa

    from datakit.plan.init import init_project
    from datakit.plan.run import plan
    from datakit.project import Project
    from datakit.tables import MANIFEST_SCHEMA, write_table

    root = where / name
    init_project(root, template="text_classification", dataset_id=name)
    plan(Project(root))
    rows = []
    for i, text in enumerate(_texts(n)):
        row: dict[str, Any] = dict.fromkeys(MANIFEST_SCHEMA.names)
        row.update(
            id=f"item-{i:06d}",
            source_path=f"reviews.csv#row={i}",
            text=text,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            size=len(text.encode()),
            media_type="text/plain",
            text_length=len(text),
            source="쇼핑몰A",
            collected_at="2026-11-29T00:00:00Z",
            status="ok",
        )
        rows.append(row)
    write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), root / "data/manifest.parquet")
    return root


class PeakRSS:
    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


# -- phases (each in a child process) ---------------------------------------------------


def phase(name: str, args: argparse.Namespace) -> dict[str, Any]:
    url, token = os.environ["BENCH_URL"], os.environ["BENCH_TOKEN"]
    n = args.n
    server_wait: list[float] = []
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        if name == "sdk_push":
            from label_studio_sdk import LabelStudio

            ls = LabelStudio(base_url=url, api_key=token, timeout=600)
            config = (Path(args.project) / "labeling/label_config.xml").read_text(encoding="utf-8")
            p = ls.projects.create(
                title=f"sdk-push-{n}-{Path(args.project).name[-5:]}",
                label_config=config,
                maximum_annotations=2,
                overlap_cohort_percentage=100,
            )
            texts = _texts(n)
            for s in range(0, n, args.batch):
                ls.projects.import_tasks(
                    id=p.id,
                    request=[
                        {"item_id": f"item-{i:06d}", "text": texts[i]}
                        for i in range(s, min(n, s + args.batch))
                    ],
                )
        elif name == "datakit_push":
            from datakit.annotate.client import Connection
            from datakit.annotate.push import push
            from datakit.project import Project

            res = push(Project(args.project), conn=Connection(url, token), batch_size=args.batch)
            assert res.tasks_created == n, res
        elif name == "sdk_pull":
            from label_studio_sdk import LabelStudio

            ls = LabelStudio(base_url=url, api_key=token, timeout=900)
            dest = Path(args.project) / "sdk-export.json"
            with dest.open("wb") as fh:
                for chunk in ls.projects.exports.download_sync(
                    id=args.project_id, export_type="JSON", download_all_tasks=False
                ):
                    fh.write(chunk)
            with dest.open(encoding="utf-8") as fh:
                data = json.load(fh)
            assert sum(len(t["annotations"]) for t in data) == n
        elif name == "datakit_pull":
            from datakit.annotate.client import Connection, LabelStudioClient
            from datakit.annotate.pull import pull
            from datakit.project import Project

            # time spent waiting for the server's export, to show datakit's own share
            original = LabelStudioClient.export_to

            def timed(self: Any, *a: Any, **kw: Any) -> int:
                t = time.perf_counter()
                try:
                    return original(self, *a, **kw)
                finally:
                    server_wait.append(time.perf_counter() - t)

            LabelStudioClient.export_to = timed  # type: ignore[method-assign]
            out = pull(Project(args.project), conn=Connection(url, token), full=True)
            assert out.annotations == n, out
        else:
            raise SystemExit(f"unknown phase {name}")
        seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "phase": name,
        "seconds": seconds,
        "peak_rss_mb": max(mem.peak / 2**20, ru),
        "export_seconds": sum(server_wait),
    }


def run_phase(
    name: str, project: Path, n: int, batch: int, env: dict[str, str], pid: int = 0
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--n",
        str(n),
        "--batch",
        str(batch),
        "--project",
        str(project),
        "--project-id",
        str(pid),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    extra = ""
    if result["export_seconds"]:
        own = result["seconds"] - result["export_seconds"]
        extra = (
            f"   (server export {result['export_seconds']:.1f} s, datakit's own work {own:.1f} s)"
        )
    print(
        f"  {name:<14} {result['seconds']:8.2f} s   "
        f"peak RSS {result['peak_rss_mb']:7.1f} MB{extra}",
        flush=True,
    )
    return result


def seed_annotations(url: str, token: str, project: Path, n: int) -> int:
    """An LS project with N tasks carrying one annotation each, titled like datakit's, so
    both datakit and the SDK pull the same data."""
    import httpx

    from datakit.annotate import state
    from datakit.project import Project

    proj = Project(project)
    config = proj.paths.label_config.read_text(encoding="utf-8")
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=900) as c:
        me = c.get("/api/current-user/whoami").json()["id"]
        p = c.post(
            "/api/projects",
            json={
                "title": state.project_title(proj),
                "label_config": config,
                "maximum_annotations": 1,
            },
        ).json()
        texts = _texts(n)
        for s in range(0, n, 5000):
            tasks = [
                {
                    "data": {"item_id": f"item-{i:06d}", "text": texts[i]},
                    "annotations": [
                        {
                            "completed_by": me,
                            "lead_time": 5.0,
                            "result": [
                                {
                                    "from_name": "label",
                                    "to_name": "text",
                                    "type": "choices",
                                    "value": {"choices": [LABELS[i % 3]]},
                                }
                            ],
                        }
                    ],
                }
                for i in range(s, min(n, s + 5000))
            ]
            r = c.post(f"/api/projects/{p['id']}/import", json=tasks)
            r.raise_for_status()
    return int(p["id"])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="2,000 instead of 20,000 tasks")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="pull runs per side (best is kept)")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--project", help=argparse.SUPPRESS)
    ap.add_argument("--project-id", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.n is None:
        args.n = 2000 if args.quick else 20000
    if args.phase:
        print(json.dumps(phase(args.phase, args)))
        return

    from datakit.annotate import server

    work = Path(tempfile.mkdtemp(prefix="bench-annotate-"))
    url, token = os.environ.get("DATAKIT_BENCH_LS_URL"), os.environ.get("DATAKIT_BENCH_LS_TOKEN")
    started = False
    try:
        if not (url and token):
            print("starting a local Label Studio (first start ≈ 1 min)…", flush=True)
            files = server.ServerFiles(work / ".ls")
            venv = None
            if (
                server.find_label_studio() is None
                and Path("~/.cache/datakit-ls-venv").expanduser().is_dir()
            ):
                venv = str(Path("~/.cache/datakit-ls-venv").expanduser())
            info, _ = server.start_server(work, files=files, venv=venv, timeout=300)
            url, token = info.url, server.read_token(files) or ""
            started = True
        env = {**os.environ, "BENCH_URL": url, "BENCH_TOKEN": token}
        n = args.n
        print(f"annotate benchmark: {n:,} tasks/annotations, server {url}")
        # names of their own: a server kept between runs still holds the last run's projects
        run = f"{int(time.time()) % 100000:05d}"
        push_dk = make_project(work, f"bench-push-{run}", n)
        pull_dk = make_project(work, f"bench-pull-{run}", n)
        print("push")
        sdk_push = run_phase("sdk_push", push_dk, n, args.batch, env)
        dk_push = run_phase("datakit_push", push_dk, n, args.batch, env)
        print("pull (seeding annotations…)", flush=True)
        pid = seed_annotations(url, token, pull_dk, n)
        # alternate SDK and datakit pulls and keep each side's best: the server does most of
        # the work and its speed drifts on a shared machine
        sdk_runs, dk_runs = [], []
        for _ in range(args.repeat):
            sdk_runs.append(run_phase("sdk_pull", pull_dk, n, args.batch, env, pid))
            dk_runs.append(run_phase("datakit_pull", pull_dk, n, args.batch, env, pid))
        sdk_pull = min(sdk_runs, key=lambda r: r["seconds"])
        dk_pull = min(dk_runs, key=lambda r: r["seconds"])
        sdk_pull_s = sdk_pull["seconds"]
        print()
        print(f"{'':<8}{'datakit':>10}{'SDK':>10}{'ratio':>8}   peak RSS datakit / SDK")
        for label, dk, sdk_s, sdk in (
            ("push", dk_push, sdk_push["seconds"], sdk_push),
            ("pull", dk_pull, sdk_pull_s, sdk_pull),
        ):
            print(
                f"{label:<8}{dk['seconds']:>9.2f}s{sdk_s:>9.2f}s{dk['seconds'] / sdk_s:>7.2f}×"
                f"   {dk['peak_rss_mb']:.0f} MB / {sdk['peak_rss_mb']:.0f} MB"
            )
        print("target: each ratio ≤ 1.2×")
    finally:
        if started:
            server.stop_server(work, files=server.ServerFiles(work / ".ls"))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
