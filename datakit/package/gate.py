"""The release gate: the last quality check must exist, have passed, and be about the data
and spec being packaged. A user may accept a failed or stale check explicitly; the release
then records it in its metadata and documents."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from datakit.errors import ReleaseError
from datakit.io import read_json, sha256_file
from datakit.project import Project


@dataclass
class GateResult:
    state: str  # passed | failed | stale | missing
    reasons: list[str] = field(default_factory=list)
    accepted: bool = False  # packaged although the state is not "passed"
    report: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        rep = self.report or {}
        indicators = rep.get("indicators") or {}
        return {
            "state": self.state,
            "passed": self.state == "passed",
            "accepted_failed_check": self.accepted,
            "reasons": list(self.reasons),
            "checked_at": rep.get("checked_at") or rep.get("finished_at"),
            "indicators": {
                str(k): {
                    "value": v.get("value"),
                    "target": v.get("target"),
                    "passed": v.get("passed"),
                }
                for k, v in sorted(indicators.items())
                if isinstance(v, dict)
            },
        }


@lru_cache(maxsize=16)
def _sha(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


_PENDING: dict[tuple[str, int, int], Future[str]] = {}
_PENDING_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered while the file is unchanged (the gate and the release
    provenance both need the input hashes). Waits for a hash :func:`prefetch_sha256` started."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _PENDING_LOCK:
        pending = _PENDING.pop(key, None)
    if pending is not None:
        pending.result()  # computed by the prefetch thread, now in the cache
    return _sha(*key)


def prefetch_sha256(paths: list[Path]) -> None:
    """Start hashing ``paths`` on a background thread (hashlib releases the GIL), so that
    the gate's staleness check costs nothing when it comes after other work."""
    for path in paths:
        if not path.is_file():
            continue
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        future: Future[str] = Future()
        with _PENDING_LOCK:
            if key in _PENDING:
                continue
            _PENDING[key] = future

        def run(key: tuple[str, int, int] = key, future: Future[str] = future) -> None:
            try:
                future.set_result(_sha(*key))
            except BaseException as exc:  # surfaces in file_sha256
                future.set_exception(exc)

        threading.Thread(target=run, name="sha256-prefetch", daemon=True).start()


def quality_report_path(project: Project) -> Any:
    return project.paths.reports / "quality.json"


def evaluate_gate(project: Project, *, check_data: bool = True) -> GateResult:
    """Where the last quality check stands, without raising. ``check_data=False`` skips
    hashing the manifest and labels (a first, quick look; the full gate follows)."""
    path = quality_report_path(project)
    if not path.is_file():
        return GateResult("missing", [f"{project.paths.rel(path)} does not exist"])
    try:
        report = read_json(path)
    except ValueError as exc:
        return GateResult("missing", [f"{project.paths.rel(path)} is not JSON ({exc})"])
    reasons: list[str] = []
    if report.get("spec_sha256") != project.spec_hash:
        reasons.append("datakit.yaml changed since the check")
    inputs = report.get("inputs") or {}
    for key, p in (
        ("manifest_sha256", project.paths.manifest),
        ("labels_sha256", project.paths.labels),
    ):
        if check_data and p.is_file() and inputs.get(key) != file_sha256(p):
            reasons.append(f"{project.paths.rel(p)} changed since the check")
    if reasons:
        return GateResult("stale", reasons, report=report)
    if not report.get("passed"):
        failed = [
            f"{name}: {ind.get('value')} (target {ind.get('target')})"
            for name, ind in sorted((report.get("indicators") or {}).items())
            if isinstance(ind, dict) and ind.get("passed") is False
        ]
        return GateResult("failed", failed or ["the check did not pass"], report=report)
    return GateResult("passed", report=report)


def enforce_gate(
    project: Project, *, accept_failed_check: bool, check_data: bool = True
) -> GateResult:
    gate = evaluate_gate(project, check_data=check_data)
    if gate.state == "passed":
        return gate
    if accept_failed_check:
        gate.accepted = True
        return gate
    detail = "; ".join(gate.reasons)
    what = {
        "missing": "no quality check has been run",
        "stale": "the last quality check is out of date",
        "failed": "the last quality check failed",
    }[gate.state]
    raise ReleaseError(
        f"release refused: {what} ({detail})",
        hint="run `datakit check` and fix what it reports, or pass --accept-failed-check "
        "to release anyway (the release will say so in its metadata and documents)",
    )
