"""Sampling inspection (의미 정확성 검수): draw the sample, hand it out, take verdicts back.

Files (all under ``reports/inspection/``):

* ``sample.json`` — how the sample was drawn (method, lot size, seed, size) and its item ids;
* ``의미정확성_검수표.csv`` — the spreadsheet hand-out: item_id, sample (``random``, or
  ``suspect`` for a label the validity model doubts, added by ``--suspects N``), content,
  label, and empty ``verdict`` / ``note`` / ``inspector`` columns (UTF-8 with BOM so Excel
  shows Korean);
* ``verdicts.json`` — the verdicts received so far, item → {verdict, note, inspector, source}.

Verdicts come back from the filled-in CSV (:func:`import_verdicts_csv`) or from a Label
Studio review project (:func:`push_review` / :func:`pull_review`).

Suspects are kept apart from the random sample: ``sample.json`` lists them under
``suspects``, never under ``items``, and only the random items' verdicts estimate the
semantic accuracy (a sample enriched with doubtful labels would bias it down). Their verdicts
are recorded too, as a check of the suspect list. ``PASS`` / ``FAIL``
(also 합격/불합격, P/F, OK/NG, Y/N) are accepted; an empty verdict means not inspected yet.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from datakit.check.sampling import draw_sample, iso2859_sample_size, sample_size_for_margin
from datakit.errors import InputError, ProjectError
from datakit.io import atomic_open, csv_safe, csv_unsafe, read_json, write_json
from datakit.project import Project

SAMPLE_FILE = "sample.json"
SHEET_FILE = "의미정확성_검수표.csv"
VERDICTS_FILE = "verdicts.json"
SHEET_COLUMNS = ("item_id", "sample", "content", "label", "verdict", "note", "inspector")
RANDOM, SUSPECT = "random", "suspect"
_PASS = {"pass", "p", "합격", "적합", "ok", "y", "yes", "true", "1", "o"}
_FAIL = {"fail", "f", "불합격", "부적합", "ng", "n", "no", "false", "0", "x"}
ReviewVerdict = Literal["PASS", "FAIL"]


def inspection_dir(project: Project) -> Path:
    return project.paths.reports / "inspection"


@dataclass
class SamplePlan:
    method: Literal["iso2859-1", "margin", "fixed"]
    lot_size: int
    size: int
    seed: int
    items: list[str]
    created_at: str
    confidence: float | None = None
    margin: float | None = None
    label_studio_project: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    suspects: list[str] = field(default_factory=list)  # outside the random sample

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "lot_size": self.lot_size,
            "size": self.size,
            "seed": self.seed,
            "confidence": self.confidence,
            "margin": self.margin,
            "created_at": self.created_at,
            "label_studio_project": self.label_studio_project,
            "items": self.items,
            "suspects": self.suspects,
            "files": self.files,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SamplePlan:
        return cls(
            method=d["method"],
            lot_size=int(d["lot_size"]),
            size=int(d["size"]),
            seed=int(d["seed"]),
            items=list(d["items"]),
            created_at=str(d["created_at"]),
            confidence=d.get("confidence"),
            margin=d.get("margin"),
            label_studio_project=d.get("label_studio_project"),
            files=dict(d.get("files") or {}),
            suspects=list(d.get("suspects") or []),
        )


def load_sample(project: Project) -> SamplePlan | None:
    path = inspection_dir(project) / SAMPLE_FILE
    return SamplePlan.from_dict(read_json(path)) if path.is_file() else None


def load_verdicts(project: Project) -> dict[str, dict[str, Any]]:
    path = inspection_dir(project) / VERDICTS_FILE
    data: dict[str, dict[str, Any]] = read_json(path) if path.is_file() else {}
    return data


def sample_verdicts(project: Project) -> tuple[SamplePlan | None, dict[str, bool | None]]:
    """The current sample and, for each of its items, PASS (True), FAIL (False) or None."""
    plan = load_sample(project)
    if plan is None:
        return None, {}
    got = load_verdicts(project)
    out: dict[str, bool | None] = {}
    for item in plan.items:
        v = got.get(item, {}).get("verdict")
        out[item] = None if v is None else v == "PASS"
    return plan, out


def labelled_items(project: Project) -> dict[str, dict[str, Any]]:
    """item id → label record, for labels paired with an ``ok`` manifest item (first wins)."""
    from datakit.tables import iter_label_records, read_manifest

    project.require(project.paths.manifest, produced_by="datakit collect")
    project.require(project.paths.labels, produced_by="datakit annotate pull")
    manifest = read_manifest(project.paths.manifest).select(["id", "status"]).to_pylist()
    ok = {r["id"] for r in manifest if r["status"] == "ok"}
    out: dict[str, dict[str, Any]] = {}
    try:
        for _, rec in iter_label_records(project.paths.labels):
            item = rec.get("id") if isinstance(rec, dict) else None
            if isinstance(item, str) and item in ok and item not in out:
                out[item] = rec
    except ValueError as exc:
        raise InputError(
            f"not JSON lines: {exc}",
            file=project.paths.rel(project.paths.labels),
            hint="run `datakit check` to list every broken record",
        ) from exc
    return out


def draw(
    project: Project,
    *,
    size: int | None = None,
    confidence: float | None = None,
    margin: float | None = None,
    seed: int | None = None,
    force: bool = False,
    suspects: int = 0,
) -> SamplePlan:
    """Draw the inspection sample over the labelled items and write the hand-out CSV.

    Size: ``size`` if given; else by ``confidence``/``margin`` if either is given; else
    KS Q ISO 2859-1 general inspection level II for the lot. The seed defaults to the
    spec's split seed, so the same project draws the same sample. ``suspects`` adds the top
    N of ``reports/의심_라벨오류.csv`` that are not in the random sample, marked as such.
    """
    folder = inspection_dir(project)
    existing = load_sample(project)
    if existing is not None and load_verdicts(project) and not force:
        raise ProjectError(
            "an inspection sample with verdicts already exists",
            hint="pass --force to draw a new sample (the old verdicts are set aside)",
        )
    records = labelled_items(project)
    lot = len(records)
    if lot == 0:
        raise ProjectError(
            "no labelled items to inspect",
            hint="pull or import labels first (`datakit annotate pull`)",
        )
    seed = project.spec.splits.seed if seed is None else seed
    method: Literal["iso2859-1", "margin", "fixed"]
    if size is not None:
        if size < 1:
            raise InputError("the sample size must be at least 1", field="--size")
        method, n = "fixed", min(size, lot)
    elif confidence is not None or margin is not None:
        method = "margin"
        confidence = 0.95 if confidence is None else confidence
        margin = 0.05 if margin is None else margin
        try:
            n = sample_size_for_margin(lot, confidence=confidence, margin=margin)
        except ValueError as exc:
            raise InputError(str(exc), field="--confidence/--margin") from exc
    else:
        method, n = "iso2859-1", iso2859_sample_size(lot)
    items = draw_sample(records, n, seed=seed)
    doubted = _top_suspects(project, suspects, records, set(items)) if suspects else []
    plan = SamplePlan(
        method=method,
        lot_size=lot,
        size=len(items),
        seed=seed,
        items=items,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        confidence=confidence if method == "margin" else None,
        margin=margin if method == "margin" else None,
        files={"sheet": project.paths.rel(folder / SHEET_FILE)},
        suspects=doubted,
    )
    old_verdicts = folder / VERDICTS_FILE
    if old_verdicts.is_file():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        old_verdicts.replace(folder / f"verdicts.{stamp}.json")
    _write_sheet(project, folder / SHEET_FILE, items, records, doubted)
    write_json(folder / SAMPLE_FILE, plan.to_dict())
    return plan


def _top_suspects(
    project: Project, n: int, records: Mapping[str, Any], drawn: set[str]
) -> list[str]:
    from datakit.check.validity import SUSPECTS_FILE, SuspectList

    if n < 0:
        raise InputError("the number of suspects must be 0 or more", field="--suspects")
    path = project.paths.reports / SUSPECTS_FILE
    if not path.is_file():
        raise ProjectError(
            f"no suspect list ({project.paths.rel(path)})",
            hint="run `datakit check` first: it lists the labels the validity baseline "
            "doubts (classification tasks)",
        )
    picked = [
        s.item_id
        for s in SuspectList.read(path).rows
        if s.item_id in records and s.item_id not in drawn
    ]
    return picked[:n]


def _content(project: Project, rec: Mapping[str, Any], row: Mapping[str, Any] | None) -> str:
    if row is not None and row.get("text"):
        return str(row["text"])
    if row is not None and row.get("stored_path"):
        return str(row["stored_path"])
    return str(rec.get("text") or rec.get("file_name") or "")


def label_view(rec: Mapping[str, Any], project: Project) -> str:
    """The label fields of a record as compact JSON (what the inspector judges)."""
    from datakit.records import label_fields

    names = label_fields(project.spec)
    shown = {k: v for k, v in rec.items() if k in names}
    return json.dumps(shown, ensure_ascii=False, separators=(", ", ": "))


def _manifest_rows(project: Project, items: list[str]) -> dict[str, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from datakit.tables import read_manifest

    table = read_manifest(project.paths.manifest)
    picked = table.filter(pc.is_in(table.column("id"), value_set=pa.array(items)))
    return {r["id"]: r for r in picked.select(["id", "text", "stored_path"]).to_pylist()}


def _write_sheet(
    project: Project,
    path: Path,
    items: list[str],
    records: Mapping[str, Mapping[str, Any]],
    suspects: Sequence[str] = (),
) -> None:
    rows = _manifest_rows(project, [*items, *suspects])
    # Inspectors open the sheet in Excel: a cell that starts like a formula is quoted
    # (csv_safe); import_verdicts_csv takes the quote off again (csv_unsafe).
    with atomic_open(path, "w", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(SHEET_COLUMNS)
        for kind, group in ((RANDOM, items), (SUSPECT, suspects)):
            for item in group:
                rec = records[item]
                content = _content(project, rec, rows.get(item))
                cells = [item, kind, content, label_view(rec, project), "", "", ""]
                w.writerow([csv_safe(c) for c in cells])


def parse_verdict(raw: str, *, file: str, item: str) -> ReviewVerdict | None:
    v = raw.strip().lower()
    if not v:
        return None
    if v in _PASS:
        return "PASS"
    if v in _FAIL:
        return "FAIL"
    raise InputError(
        f"verdict {raw!r} is neither PASS nor FAIL",
        file=file,
        item=item,
        field="verdict",
        hint="write PASS or FAIL (합격/불합격 also work); leave it empty if not inspected yet",
    )


@dataclass
class VerdictImport:
    received: int
    passed: int
    failed: int
    pending: int
    sample_size: int
    suspects: int = 0  # suspects handed out beside the sample (check sample --suspects)
    suspects_checked: int = 0  # their verdicts: a check of the suspect list, not the estimate
    suspects_failed: int = 0

    def to_dict(self) -> dict[str, int]:
        out = {
            "received": self.received,
            "passed": self.passed,
            "failed": self.failed,
            "pending": self.pending,
            "sample_size": self.sample_size,
        }
        if self.suspects:
            out |= {
                "suspects": self.suspects,
                "suspects_checked": self.suspects_checked,
                "suspects_failed": self.suspects_failed,
            }
        return out


def _require_sample(project: Project) -> SamplePlan:
    plan = load_sample(project)
    if plan is None:
        raise ProjectError(
            "no inspection sample drawn yet", hint="run `datakit check sample` first"
        )
    return plan


def import_verdicts_csv(project: Project, path: Path) -> VerdictImport:
    """Read verdicts from a filled-in hand-out CSV (any column order; UTF-8 with or
    without BOM). All rows are checked before anything is recorded."""
    plan = _require_sample(project)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the verdict sheet: {exc}", file=name) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))  # newlines inside cells kept
    cols = set(reader.fieldnames or [])
    for needed in ("item_id", "verdict"):
        if needed not in cols:
            raise InputError(
                f"the sheet has no {needed!r} column",
                file=name,
                field=needed,
                hint=f"use the hand-out {SHEET_FILE} and fill in its verdict column",
            )
    sampled = set(plan.items) | set(plan.suspects)
    found: dict[str, dict[str, Any]] = {}
    for n, raw in enumerate(reader, 2):
        row = {k: csv_unsafe(v) if isinstance(v, str) else v for k, v in raw.items()}
        item = (row.get("item_id") or "").strip()
        if not item:
            continue
        if item not in sampled:
            raise InputError(
                "this item is not in the current inspection sample",
                file=f"{name}:{n}",
                item=item,
                field="item_id",
                hint="verdicts only count for sampled items; draw again with "
                "`datakit check sample --force` to change the sample",
            )
        verdict = parse_verdict(row.get("verdict") or "", file=f"{name}:{n}", item=item)
        if verdict is not None:
            found[item] = {
                "verdict": verdict,
                "note": (row.get("note") or "").strip() or None,
                "inspector": (row.get("inspector") or "").strip() or None,
                "source": "csv",
            }
    return _record(project, plan, found)


def _record(
    project: Project, plan: SamplePlan, found: Mapping[str, dict[str, Any]]
) -> VerdictImport:
    verdicts = load_verdicts(project)
    verdicts.update(found)
    write_json(inspection_dir(project) / VERDICTS_FILE, dict(sorted(verdicts.items())))
    in_sample = [verdicts[i]["verdict"] for i in plan.items if i in verdicts]
    doubted = [verdicts[i]["verdict"] for i in plan.suspects if i in verdicts]
    return VerdictImport(
        received=len(found),
        passed=in_sample.count("PASS"),
        failed=in_sample.count("FAIL"),
        pending=plan.size - len(in_sample),
        sample_size=plan.size,
        suspects=len(plan.suspects),
        suspects_checked=len(doubted),
        suspects_failed=doubted.count("FAIL"),
    )


# -- Label Studio review project --------------------------------------------------------------


def review_config(data_type: str) -> str:
    """Labeling config of the review project: the item, its label, PASS/FAIL and a note."""
    from xml.sax.saxutils import quoteattr

    from datakit.labels import TASK_DATA_KEY

    key = TASK_DATA_KEY[data_type]
    tag = {"text": "Text", "image": "Image", "audio": "Audio", "video": "Video"}[key]
    return "\n".join(
        [
            "<View>",
            '  <Header value="의미 정확성 검수 (semantic accuracy review)"/>',
            f"  <{tag} name={quoteattr(key)} value={quoteattr('$' + key)}/>",
            '  <Header value="라벨 (label)" size="6"/>',
            '  <Text name="label_view" value="$label_view"/>',
            f'  <Choices name="verdict" toName={quoteattr(key)} choice="single-radio"'
            ' required="true" showInline="true">',
            '    <Choice value="PASS"/>',
            '    <Choice value="FAIL"/>',
            "  </Choices>",
            f'  <TextArea name="note" toName={quoteattr(key)} rows="2" maxSubmissions="1"/>',
            "</View>",
            "",
        ]
    )


def review_title(project: Project, plan: SamplePlan) -> str:
    """Label Studio allows 50 characters: dataset id (shortened), purpose, draw time."""
    stamp = plan.created_at[:16].replace("-", "").replace(":", "").replace("T", "-")
    return f"{project.spec.dataset.id[:26]} 검수 {stamp}"[:50]


def push_review(project: Project, client: Any) -> int:
    """Create the review project (once per sample) with one task per sampled item."""
    from datakit.labels import TASK_DATA_KEY

    plan = _require_sample(project)
    if plan.label_studio_project is not None and client.project(plan.label_studio_project):
        return plan.label_studio_project
    spec = project.spec
    records = labelled_items(project)
    rows = _manifest_rows(project, [*plan.items, *plan.suspects])
    key = TASK_DATA_KEY[spec.data.type]
    created = client.create_project(
        title=review_title(project, plan), label_config=review_config(spec.data.type)
    )
    pid = int(created["id"])
    tasks = []
    doubted = set(plan.suspects)
    for item in [*plan.items, *plan.suspects]:
        rec = records.get(item, {})
        row = rows.get(item) or {}
        if key == "text":
            content = str(row.get("text") or rec.get("text") or "")
        else:
            stored = str(row.get("stored_path") or "")
            content = f"/data/local-files/?d={stored}" if stored else ""
        shown = label_view(rec, project)
        if item in doubted:  # the reviewer sees that the model doubts this label
            shown = f"[{SUSPECT}: 모델이 의심하는 라벨] {shown}"
        sample = SUSPECT if item in doubted else RANDOM
        tasks.append({"item_id": item, key: content, "label_view": shown, "sample": sample})
    client.import_tasks(pid, tasks)
    plan.label_studio_project = pid
    write_json(inspection_dir(project) / SAMPLE_FILE, plan.to_dict())
    return pid


def verdicts_from_export(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """item → verdict from a Label Studio JSON export (the latest non-cancelled annotation)."""
    out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        item = (task.get("data") or {}).get("item_id")
        anns = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if not item or not anns:
            continue
        ann = max(anns, key=lambda a: (str(a.get("updated_at") or ""), int(a.get("id") or 0)))
        verdict: str | None = None
        note: str | None = None
        for r in ann.get("result") or []:
            value = r.get("value") or {}
            if r.get("from_name") == "verdict" and value.get("choices"):
                verdict = str(value["choices"][0]).upper()
            elif r.get("from_name") == "note" and value.get("text"):
                note = " ".join(str(t) for t in value["text"])
        if verdict in ("PASS", "FAIL"):
            who = ann.get("completed_by")
            inspector = who.get("email") if isinstance(who, dict) else who
            out[str(item)] = {
                "verdict": verdict,
                "note": note,
                "inspector": None if inspector is None else str(inspector),
                "source": "label_studio",
            }
    return out


def pull_review(project: Project, client: Any) -> VerdictImport:
    """Take the verdicts from the review project into ``verdicts.json``."""
    plan = _require_sample(project)
    if plan.label_studio_project is None:
        raise ProjectError(
            "the sample has no Label Studio review project",
            hint="run `datakit check sample --label-studio` (or review with the CSV)",
        )
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "export.json"
        client.export_to(plan.label_studio_project, dest, all_tasks=True)
        tasks = json.loads(dest.read_text(encoding="utf-8"))
    sampled = set(plan.items) | set(plan.suspects)
    found = {k: v for k, v in verdicts_from_export(tasks).items() if k in sampled}
    return _record(project, plan, found)
