"""The check's reports under ``reports/``:

* ``quality.json`` — the machine-readable result (``specs/quality-report.schema.json``,
  validated before it is written); the package stage reads it;
* ``quality.html`` — one self-contained page: tables and inline SVG charts, no scripts,
  no network, opens offline; shows the trend over the kept runs;
* ``품질검증_결과서.md`` — the Korean 품질검증 결과서 (지표 | 목표 | 결과 | 판정);
* ``형식_오류목록.csv``, ``구조_오류목록.csv``, ``파일_오류목록.csv`` — the error lists
  (UTF-8 with BOM so spreadsheet programs show Korean);
* ``runs/<timestamp>/`` — a copy of ``quality.json`` and the 결과서 of every run, so staged
  checks (5–10% / 30% / 50% / 100%) keep their history.
"""

from __future__ import annotations

import csv
import html
import io
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datakit.check.census import ERROR_CLASSES, RecordError
from datakit.errors import ArtefactError
from datakit.io import atomic_open, csv_safe, dumps_json, write_text
from datakit.project import Project
from datakit.reports import METRIC_NAMES, QUALITY_FILE, TITLES_KO, AgreementFigures, QualityReport

ERROR_LIST = {kind: f"{kind}_오류목록.csv" for kind in ERROR_CLASSES}
RESULT_DOC = "품질검증_결과서.md"
# ``value``: the whole offending value when the message could not quote it (a long text);
# quality.json and quality.html only ever show a clipped copy.
ERROR_COLUMNS = ("item", "file", "line", "path", "rule", "message", "value")
MAX_HTML_ERRORS = 200
STREAMED_VALUE = 1 << 20  # characters; a longer value is written to an error list piecewise


def validate_report(data: dict[str, Any]) -> None:
    """Raise if ``data`` does not match ``specs/quality-report.schema.json`` (a bug)."""
    import jsonschema

    from datakit.schemas import load_schema

    jsonschema.Draft202012Validator(load_schema("quality-report")).validate(data)


def run_folder_name(generated_at: str) -> str:
    return generated_at.replace(":", "").replace("-", "").replace("+0000", "Z")


def write_reports(project: Project, report: QualityReport) -> dict[str, str]:
    """Write every report file; returns {kind: project-relative path} (also in the JSON)."""
    folder = project.paths.reports
    folder.mkdir(parents=True, exist_ok=True)
    run_dir = folder / "runs" / run_folder_name(report.generated_at)
    files = {
        "json": folder / QUALITY_FILE,
        "html": folder / "quality.html",
        "markdown": folder / RESULT_DOC,
        **{f"errors_{k}": folder / name for k, name in ERROR_LIST.items()},
        "run": run_dir,
    }
    report.files = {k: project.paths.rel(v) for k, v in files.items()}
    data = report.to_dict()
    validate_report(data)
    for kind in ERROR_CLASSES:
        write_error_list(files[f"errors_{kind}"], [e for e in report.errors if e.kind == kind])
    markdown = result_document(report)
    write_text(files["markdown"], markdown)
    # Keep the run before rendering the page, so its trend includes this run.
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / QUALITY_FILE, dumps_json(data))
    write_text(run_dir / RESULT_DOC, markdown)
    history = load_history(folder / "runs")
    write_text(files["html"], html_report(report, history))
    # quality.json last: its presence says the rest of the reports belong to it.
    write_text(files["json"], dumps_json(data))
    return report.files


def write_error_list(path: Path, errors: Sequence[RecordError]) -> None:
    """One error list; cells that a spreadsheet would run as a formula are quoted
    (:func:`~datakit.io.csv_safe`): inspectors open these files in Excel."""
    with atomic_open(path, "w", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(ERROR_COLUMNS)
        for e in errors:
            cells = [csv_safe(c) for c in (e.item or "", e.file, e.line, e.path, e.rule,
                                           e.message)]  # fmt: skip
            value = "" if e.value is None else e.value
            if len(value) <= STREAMED_VALUE:
                w.writerow([*cells, csv_safe(value)])
            else:  # the csv module would hold several copies of a 50 MiB text
                head = io.StringIO()
                csv.writer(head, lineterminator="").writerow([*cells, ""])
                fh.write(head.getvalue() + '"')
                fh.write(csv_safe(value[:STREAMED_VALUE]).replace('"', '""'))
                for i in range(STREAMED_VALUE, len(value), STREAMED_VALUE):
                    fh.write(value[i : i + STREAMED_VALUE].replace('"', '""'))
                fh.write('"\r\n')


def load_history(runs: Path) -> list[QualityReport]:
    """Every kept run's quality.json, oldest first (unreadable or older layouts are skipped)."""
    out: list[QualityReport] = []
    if not runs.is_dir():
        return out
    for d in sorted(p for p in runs.iterdir() if p.is_dir()):
        try:
            out.append(QualityReport.read(d / QUALITY_FILE))
        except ArtefactError:
            continue
    return out


def prune_runs(runs: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` run folders."""
    folders = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    for d in folders[: max(0, len(folders) - keep)]:
        shutil.rmtree(d)


# -- formatting ------------------------------------------------------------------------------


def fmt_value(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if name == "agreement":
        return f"{value:.3f}"
    return f"{value * 100:.2f}%"


def verdict_ko(passed: bool | None) -> str:
    return "미측정" if passed is None else ("적합" if passed else "부적합")


# -- Markdown 결과서 ---------------------------------------------------------------------------


def result_document(report: QualityReport) -> str:
    ds = report.dataset
    cp = report.checkpoint
    inds = report.indicators
    lines = [
        f"# 품질검증 결과서 — {ds['name_ko']} ({ds['name_en']}) v{ds['version']}",
        "",
        f"- 검증 일시: {report.generated_at}",
        f"- 종합 판정: **{'적합' if report.passed else '부적합'}**",
    ]
    if cp["name"]:
        lines.append(f"- 검사 단계: {cp['name']}")
    if cp["target_total"]:
        lines.append(
            f"- 구축 진도: {cp['labelled']:,} / {cp['target_total']:,} "
            f"({(cp['share'] or 0) * 100:.1f}%)"
        )
    lines += [
        f"- 명세 해시(spec sha256): `{report.spec_sha256[:16]}…`",
        "",
        "## 품질 지표",
        "",
        "| 지표 | 목표 | 결과 | 판정 | 비고 |",
        "|---|---|---|---|---|",
    ]
    for name, i in inds.items():
        note = (i.note or "").replace("|", "\\|")
        lines.append(
            f"| {i.title} | {fmt_value(name, i.target)} | {fmt_value(name, i.value)} "
            f"| {verdict_ko(i.passed)} | {note} |"
        )
    syn = inds["syntactic"].details
    if syn:
        lines += [
            "",
            "## 구문 정확성 검사결과",
            "",
            f"전체 {syn['records']:,}건 중 유효 {syn['valid']:,}건, 오류 {syn['invalid']:,}건.",
            "",
            "| 오류 유형 | 건수 | 오류목록 |",
            "|---|---|---|",
        ]
        for kind in ERROR_CLASSES:
            lines.append(f"| {kind} | {syn['errors'][kind]:,} | {ERROR_LIST[kind]} |")
    comp = inds["completeness"].details
    if comp.get("rows"):
        lines += ["", "## 완전성 (충분성)", "", "| 구분 | 성과 목표 | 제출 수량 | 달성율 |",
                  "|---|---|---|---|"]  # fmt: skip
        for r in comp["rows"]:
            lines.append(
                f"| {r['name']} | {r['target']:,} | {r['delivered']:,} | {r['rate'] * 100:.1f}% |"
            )
    div = inds["diversity"].details
    if div.get("attributes"):
        lines += ["", "## 통계 다양성", "", "| 구분 | 항목명 | 정량목표 | 결과값 | 건수 |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for a in div["attributes"]:
            for r in a["rows"]:
                lines.append(
                    f"| {a['attribute']} | {r['value']} | {r['planned'] * 100:.1f}% "
                    f"| {r['actual'] * 100:.1f}% | {r['count']:,} |"
                )
            lines.append(f"| {a['attribute']} | 일치율 Σmin | | {a['overlap'] * 100:.1f}% | |")
    sem = inds["semantic"]
    if sem.details.get("inspected") and sem.value is not None:
        d = sem.details
        lo, hi = d["interval"]
        lines += [
            "",
            "## 의미 정확성 검사결과",
            "",
            f"표본 {d['sample'].get('size', d['inspected'])}건 (추출 방법: "
            f"{d['sample'].get('method', '-')}, 모집단 {d['sample'].get('lot_size', '-')}건, "
            f"seed {d['sample'].get('seed', '-')}), 검수 {d['inspected']}건: "
            f"합격 {d['passed_items']}건, 불합격 {d['failed_items']}건.",
            f"합격률 {sem.value * 100:.2f}%, {d['confidence'] * 100:.0f}% 정확(Clopper–Pearson) "
            f"신뢰구간 [{lo * 100:.2f}%, {hi * 100:.2f}%], 단측 하한 {d['lower_bound'] * 100:.2f}% "
            f"({'목표 충족' if d['bound_clears_target'] else '목표 미달'}).",
        ]
    agreement = report.agreement_figures()
    if agreement is not None:
        lines += ["", "## 작업자 간 일치도", "", *agreement_lines_ko(agreement)]
    from datakit import validity_report as validity_render
    from datakit.validity_report import ValidityResult

    lines += validity_render.markdown_ko(ValidityResult.from_indicator(inds.get("validity")))
    failed = [e for e in report.expectations if not e["success"]]
    if report.expectations:
        lines += ["", "## 기대 규칙 (Great Expectations)", "",
                  f"{len(report.expectations)}개 규칙 중 {len(failed)}개 불충족."]  # fmt: skip
        if failed:
            lines += ["", "| 스위트 | 규칙 | 열 | 불충족 건수 |", "|---|---|---|---|"]
            for e in failed:
                lines.append(
                    f"| {e['suite']} | {e['type']} | {e['column'] or ''} "
                    f"| {e['unexpected_count'] if e['unexpected_count'] is not None else '-'} |"
                )
    return "\n".join(lines) + "\n"


def agreement_rows_ko(a: AgreementFigures) -> list[tuple[str, str]]:
    """(항목, 내용) rows of the agreement figures, for the 결과서 and the HTML report."""
    ci = a.interval
    rows = [
        ("지표", METRIC_NAMES.get(a.metric, a.metric)),
        ("결과", "—" if a.value is None else f"{a.value:.3f}"),
    ]
    if ci is not None:
        rows.append(
            (
                f"{ci.level * 100:.0f}% 신뢰구간",
                f"{ci.text()} (항목 부트스트랩 {ci.resamples:,}회, seed {ci.seed})",
            )
        )
    rows += [
        ("교차 작업 항목", f"{a.n_items:,}건 (작업자 {a.annotators}명)"),
        ("지표 선택 이유", a.metric_reason),
    ]
    if a.adjudicated_items:
        rows.append(("검수자 판정", f"{a.review_ko()}; 검수자 라벨은 일치도 계산에서 제외"))
    return rows


def agreement_lines_ko(a: AgreementFigures) -> list[str]:
    rows = [(k, v.replace("|", "\\|")) for k, v in agreement_rows_ko(a)]
    return ["| 항목 | 내용 |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]


# -- HTML -------------------------------------------------------------------------------------

_CSS = """
body{font-family:'Noto Sans KR','Apple SD Gothic Neo','Malgun Gothic',sans-serif;margin:2rem;
color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;
font-size:.9rem;text-align:left}th{background:#f4f4f4}.pass{color:#1a7f37;font-weight:bold}
.fail{color:#cf222e;font-weight:bold}.na{color:#888}figure{margin:1rem 0}
figcaption{font-size:.85rem;color:#555}.num{text-align:right}
"""
_GREEN, _RED, _GREY, _BLUE, _ORANGE = "#2da44e", "#cf222e", "#aaaaaa", "#4363d8", "#f58231"


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _cls(passed: bool | None) -> str:
    return "na" if passed is None else ("pass" if passed else "fail")


def svg_bars(
    rows: Sequence[tuple[str, float, float | None, str]],
    *,
    title: str,
    width: int = 640,
    scale_max: float | None = None,
    percent: bool = True,
) -> str:
    """Horizontal bars: (label, value, target marker or None, colour)."""
    bar_h, gap, left, right = 22, 8, 190, 70
    height = len(rows) * (bar_h + gap) + 30
    top = max([scale_max or 0.0] + [max(v, t or 0.0) for _, v, t, _ in rows] + [1e-9])
    span = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
    ]
    for i, (label, value, target, colour) in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        w = max(0.0, value) / top * span
        text = f"{value * 100:.1f}%" if percent else f"{value:,.3g}"
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_e(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 15}" font-size="12">{_e(text)}</text>'
        )
        if target is not None:
            tx = left + target / top * span
            parts.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 3}" y2="{y + bar_h + 3}" '
                f'stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def svg_grouped(
    groups: Sequence[tuple[str, float, float]], *, title: str, legend: tuple[str, str]
) -> str:
    """Pairs of vertical bars per group (planned vs actual), shares 0..1."""
    bw, gap, h, left = 26, 24, 180, 40
    width = left + len(groups) * (2 * bw + gap) + 20
    height = h + 60
    top = max([1e-9] + [max(a, b) for _, a, b in groups])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{max(width, 260)}" '
        f'height="{height}"><title>{_e(title)}</title>'
        f'<rect x="{left}" y="4" width="10" height="10" fill="{_GREY}"/>'
        f'<text x="{left + 14}" y="13" font-size="11">{_e(legend[0])}</text>'
        f'<rect x="{left + 90}" y="4" width="10" height="10" fill="{_BLUE}"/>'
        f'<text x="{left + 104}" y="13" font-size="11">{_e(legend[1])}</text>'
    ]
    for i, (label, a, b) in enumerate(groups):
        x = left + i * (2 * bw + gap)
        for j, (v, colour) in enumerate(((a, _GREY), (b, _BLUE))):
            bh = v / top * (h - 30)
            parts.append(
                f'<rect x="{x + j * bw}" y="{h - bh:.1f}" width="{bw - 2}" height="{bh:.1f}" '
                f'fill="{colour}"><title>{_e(label)}: {v * 100:.1f}%</title></rect>'
            )
        parts.append(
            f'<text x="{x + bw}" y="{h + 16}" text-anchor="middle" font-size="11">'
            f"{_e(label)}</text>"
        )
    parts.append(f'<line x1="{left}" x2="{width}" y1="{h}" y2="{h}" stroke="#444"/></svg>')
    return "".join(parts)


def svg_trend(history: Sequence[QualityReport], *, title: str) -> str:
    """One line per rate indicator over the kept runs (x: run, labelled by checkpoint)."""
    names = ["syntactic", "format", "semantic", "completeness", "diversity"]
    colours = dict(zip(names, (_BLUE, _ORANGE, _GREEN, "#911eb4", "#008080"), strict=True))
    width, height, left, bottom = 640, 240, 50, 200
    n = len(history)
    step = (width - left - 30) / max(1, n - 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height + 40}">'
        f"<title>{_e(title)}</title>"
        f'<line x1="{left}" x2="{width - 20}" y1="{bottom}" y2="{bottom}" stroke="#444"/>'
        f'<line x1="{left}" x2="{left}" y1="10" y2="{bottom}" stroke="#444"/>'
        f'<text x="{left - 6}" y="14" text-anchor="end" font-size="10">100%</text>'
        f'<text x="{left - 6}" y="{bottom}" text-anchor="end" font-size="10">0%</text>'
    ]
    for k, name in enumerate(names):
        pts = []
        for i, run in enumerate(history):
            found = run.indicators.get(name)
            v = None if found is None else found.value
            if v is not None:
                pts.append((left + i * step, bottom - max(0.0, min(1.0, v)) * (bottom - 10)))
        if pts:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colours[name]}" stroke-width="2"/>'
            )
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colours[name]}"/>' for x, y in pts
            )
        parts.append(
            f'<rect x="{left + k * 118}" y="{height + 20}" width="10" height="10" '
            f'fill="{colours[name]}"/><text x="{left + 14 + k * 118}" y="{height + 29}" '
            f'font-size="11">{_e(TITLES_KO[name])}</text>'
        )
    for i, run in enumerate(history):
        cp = run.checkpoint
        label = cp["name"] or (
            f"{cp['share'] * 100:.0f}%" if cp["share"] is not None else f"#{i + 1}"
        )
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{bottom + 16}" text-anchor="middle" '
            f'font-size="10">{_e(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], num: set[int] | None = None) -> str:
    num = num or set()
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>")
        for i, c in enumerate(r):
            cls = ' class="num"' if i in num else ""
            out.append(c if isinstance(c, _Raw) else f"<td{cls}>{_e(c)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class _Raw(str):
    """A pre-rendered table cell."""


def html_report(report: QualityReport, history: Sequence[QualityReport]) -> str:
    ds = report.dataset
    inds = report.indicators
    errors: Sequence[RecordError] = report.errors
    verdict = "적합 (PASSED)" if report.passed else "부적합 (FAILED)"
    checkpoint = report.checkpoint["name"]
    body = [
        f"<h1>품질검증 결과 — {_e(ds['name_ko'])} ({_e(ds['name_en'])}) v{_e(ds['version'])}</h1>",
        f'<p>종합 판정: <span class="{_cls(report.passed)}">{_e(verdict)}</span> · '
        f"검증 일시 {_e(report.generated_at)}"
        + (f" · 검사 단계 {_e(checkpoint)}" if checkpoint else "")
        + "</p>",
        "<h2>품질 지표 (indicators)</h2>",
    ]
    rows = []
    for name, i in inds.items():
        rows.append(
            [
                i.title,
                fmt_value(name, i.target),
                fmt_value(name, i.value),
                _Raw(f'<td class="{_cls(i.passed)}">{_e(verdict_ko(i.passed))}</td>'),
                i.note or "",
            ]
        )
    body.append(_table(["지표", "목표", "결과", "판정", "비고"], rows))
    bars = [
        (i.title, float(i.value), i.target, _GREEN if i.passed else _RED)
        for name, i in inds.items()
        if i.value is not None and name != "agreement"
    ]
    if bars:
        body.append(
            "<figure>"
            + svg_bars(bars, title="지표별 결과와 목표", scale_max=1.0)
            + "<figcaption>지표별 결과 (막대)와 목표 (점선)</figcaption></figure>"
        )
    syn = inds["syntactic"].details
    if syn:
        body.append("<h2>구문 정확성 — 오류 유형별</h2>")
        counts = syn["errors"]
        body.append(
            _table(
                ["오류 유형", "건수", "오류목록"],
                [[k, f"{counts[k]:,}", ERROR_LIST[k]] for k in ERROR_CLASSES],
                {1},
            )
        )
        body.append(
            "<figure>"
            + svg_bars(
                [(k, float(counts[k]), None, _ORANGE) for k in ERROR_CLASSES],
                title="오류 유형별 건수",
                percent=False,
            )
            + "<figcaption>형식 / 구조 / 파일 오류 건수</figcaption></figure>"
        )
        if errors:
            shown = errors[:MAX_HTML_ERRORS]
            body.append(
                f"<p>오류 {len(errors):,}건 중 처음 {len(shown):,}건 (전체는 오류목록 CSV):</p>"
            )
            body.append(
                _table(
                    ["유형", "항목", "파일", "줄", "경로", "규칙", "내용"],
                    [
                        [e.kind, e.item or "", e.file, e.line or "", e.path, e.rule, e.message]
                        for e in shown
                    ],
                )
            )
    comp = inds["completeness"].details
    if comp.get("rows"):
        body.append("<h2>완전성 (충분성)</h2>")
        body.append(
            _table(
                ["구분", "성과 목표", "제출 수량", "달성율"],
                [
                    [
                        r["name"],
                        f"{r['target']:,}",
                        f"{r['delivered']:,}",
                        f"{r['rate'] * 100:.1f}%",
                    ]
                    for r in comp["rows"]
                ],
                {1, 2, 3},
            )
        )
        body.append(
            "<figure>"
            + svg_bars(
                [
                    (r["name"], r["rate"], 1.0, _GREEN if r["rate"] >= 1 else _RED)
                    for r in comp["rows"]
                ],
                title="달성율",
                scale_max=1.0,
            )
            + "<figcaption>구분별 달성율 (점선: 100%)</figcaption></figure>"
        )
    div = inds["diversity"].details
    for a in div.get("attributes", []):
        body.append(f"<h2>다양성 — {_e(a['attribute'])} (일치율 {a['overlap'] * 100:.1f}%)</h2>")
        body.append(
            _table(
                ["항목명", "정량목표", "결과값", "건수"],
                [
                    [
                        r["value"],
                        f"{r['planned'] * 100:.1f}%",
                        f"{r['actual'] * 100:.1f}%",
                        f"{r['count']:,}",
                    ]
                    for r in a["rows"]
                ],
                {1, 2, 3},
            )
        )
        body.append(
            "<figure>"
            + svg_grouped(
                [(r["value"], r["planned"], r["actual"]) for r in a["rows"]],
                title=f"{a['attribute']} 구성비",
                legend=("계획", "실제"),
            )
            + "</figure>"
        )
        if a["shortfalls"]:
            body.append(
                "<p>가장 큰 부족: "
                + ", ".join(f"{_e(s['value'])} ({s['gap'] * 100:.1f}%p)" for s in a["shortfalls"])
                + "</p>"
            )
    sem = inds["semantic"]
    if sem.details.get("inspected") and sem.value is not None:
        d = sem.details
        body.append("<h2>의미 정확성 (표본 검수)</h2>")
        body.append(
            _table(
                ["표본", "검수", "합격", "불합격", "합격률", "정확 신뢰구간", "단측 하한"],
                [
                    [
                        d["sample"].get("size", d["inspected"]),
                        d["inspected"],
                        d["passed_items"],
                        d["failed_items"],
                        f"{sem.value * 100:.2f}%",
                        f"[{d['interval'][0] * 100:.2f}%, {d['interval'][1] * 100:.2f}%]",
                        f"{d['lower_bound'] * 100:.2f}%",
                    ]
                ],
            )
        )
    agreement = report.agreement_figures()
    if agreement is not None:
        body.append("<h2>작업자 간 일치도</h2>")
        body.append(_table(["항목", "내용"], agreement_rows_ko(agreement)))
    from datakit import validity_report as validity_render
    from datakit.validity_report import ValidityResult

    body += validity_render.html_section(ValidityResult.from_indicator(inds.get("validity")))
    failed = [e for e in report.expectations if not e["success"]]
    if report.expectations:
        body.append("<h2>기대 규칙 (Great Expectations)</h2>")
        body.append(f"<p>{len(report.expectations)}개 규칙 중 {len(failed)}개 불충족.</p>")
        if failed:
            body.append(
                _table(
                    ["스위트", "규칙", "열", "불충족 건수", "예시", "오류"],
                    [
                        [
                            e["suite"],
                            e["type"],
                            e["column"] or "",
                            "" if e["unexpected_count"] is None else e["unexpected_count"],
                            ", ".join(map(str, e["unexpected_examples"][:5])),
                            e["error"] or "",
                        ]
                        for e in failed
                    ],
                )
            )
    if len(history) >= 1:
        body.append("<h2>단계별 추이 (trend over checks)</h2>")
        body.append("<figure>" + svg_trend(history, title="단계별 지표 추이") + "</figure>")
        body.append(
            _table(
                ["검증 일시", "단계", "라벨 수", "판정"],
                [
                    [
                        h.generated_at,
                        h.checkpoint["name"] or "",
                        h.checkpoint["labelled"],
                        "적합" if h.passed else "부적합",
                    ]
                    for h in history
                ],
            )
        )
    return (
        '<!DOCTYPE html>\n<html lang="ko"><head><meta charset="utf-8">'
        f"<title>품질검증 결과 — {_e(ds['name_ko'])}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
