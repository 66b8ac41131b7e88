"""The label record: where an item's content sits (:data:`TASK_DATA_KEY`, also the name of
the content column in the label table and the release) and what a valid record is
(:func:`label_record_schema`: plan writes it to ``labeling/label.schema.json``, check and
package validate records with it). Pure Python, cheap to import: plan and annotate use it
without paying for pyarrow; the Arrow form of the records is :mod:`datakit.label_table`.
"""

from __future__ import annotations

from typing import Any

from datakit.spec.model import FieldDef, ProjectSpec

# The key under which each data type's content sits in a Label Studio task's ``data``; the
# release's content column has the same name.
TASK_DATA_KEY: dict[str, str] = {
    "text": "text",
    "tabular": "text",
    "image": "image",
    "audio": "audio",
    "video": "video",
}


def content_column(spec: ProjectSpec) -> str:
    """Name of the content column: ``text`` for text/tabular, else ``image``/``audio``/``video``."""
    return TASK_DATA_KEY[spec.data.type]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if "type" in schema:
        t = schema["type"]
        return {**schema, "type": [*(t if isinstance(t, list) else [t]), "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def field_schema(f: FieldDef, classes: list[str]) -> dict[str, Any]:
    """JSON Schema of one field-dictionary entry."""
    s: dict[str, Any]
    if f.type == "string":
        s = {"type": "string"}
        if f.minimum is not None:
            s["minLength"] = int(f.minimum)
        if f.maximum is not None:
            s["maxLength"] = int(f.maximum)
        if f.pattern:
            s["pattern"] = f.pattern
    elif f.type in ("integer", "number"):
        s = {"type": f.type}
        if f.minimum is not None:
            s["minimum"] = int(f.minimum) if f.type == "integer" else f.minimum
        if f.maximum is not None:
            s["maximum"] = int(f.maximum) if f.type == "integer" else f.maximum
    elif f.type == "boolean":
        s = {"type": "boolean"}
    elif f.type == "date":
        s = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    elif f.type == "datetime":
        s = {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}",
        }
    elif f.type == "class":
        s = {"enum": list(classes)}
    elif f.type == "choice":
        s = {"enum": list(f.values)}
    elif f.type == "classes":
        s = {"type": "array", "items": {"enum": list(classes)}, "uniqueItems": True}
        if f.required:
            s["minItems"] = 1
    elif f.type == "spans":
        s = {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["start", "end", "label"],
                "properties": {
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 1},
                    "label": {"enum": list(classes)},
                    "text": {"type": "string"},
                },
            },
        }
    elif f.type == "boxes":
        pct = {"type": "number", "minimum": 0, "maximum": 100}
        s = {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["label", "x", "y", "width", "height"],
                "properties": {
                    "label": {"enum": list(classes)},
                    "x": pct,
                    "y": pct,
                    "width": pct,
                    "height": pct,
                    "rotation": {"type": "number"},
                },
            },
        }
    else:  # pragma: no cover - the schema's enum makes this unreachable
        raise ValueError(f"unknown field type {f.type}")
    s["description"] = f.description
    return s if f.required else _nullable(s)


def label_record_schema(spec: ProjectSpec) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one label record, from the field dictionary."""
    classes = list(spec.task.class_names)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:datakit:{spec.dataset.id}:label-record:{spec.dataset.version}",
        "title": f"{spec.dataset.name_ko} 라벨링데이터 ({spec.dataset.name_en} label record)",
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in spec.fields if f.required],
        "properties": {f.name: field_schema(f, classes) for f in spec.fields},
    }


def label_classes(value: Any) -> list[str]:
    """The classes a label value holds, once per entity or box: a class, a list of classes,
    or spans/boxes (``{"label": ...}``)."""
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    if isinstance(value, list):
        for v in value:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, dict) and isinstance(v.get("label"), str):
                out.append(v["label"])
    return out
