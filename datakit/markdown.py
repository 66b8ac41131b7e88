"""Markdown pieces of the Korean documents more than one stage writes: table cells and
tables, and the field dictionary table that both the 가공 가이드라인 (plan) and the
데이터설명서 (package) carry."""

from __future__ import annotations

from datakit.spec.model import ProjectSpec


def md_cell(value: object) -> str:
    """A value safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def field_dictionary_table(spec: ProjectSpec) -> str:
    """The 데이터설명서 field dictionary: 구분 | 속성명 | 타입 | 필수 여부 | 설명 | 범위 | 비고."""
    rows: list[list[object]] = [
        [
            f.group or "",
            f.name,
            f.type,
            "Y" if f.required else "N",
            f.description,
            f.range_text() or ("클래스: " + ", ".join(spec.task.class_names))
            if f.type in ("class", "classes")
            else f.range_text(),
            f.note or "",
        ]
        for f in spec.fields
    ]
    return md_table(["구분", "속성명", "타입", "필수 여부", "설명", "범위", "비고"], rows)
