"""Machine artefacts derived from the spec: the Label Studio labeling config and the Great
Expectations suites (the JSON Schema of one label record is :mod:`datakit.labels`'s, as
package validates records with it too). Pure functions of the spec: the same spec always
gives byte-identical output."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from datakit.labels import TASK_DATA_KEY
from datakit.spec.model import ProjectSpec

_PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#46f0f0", "#f032e6", "#bcf60c", "#008080", "#9a6324",
)  # fmt: skip


def _color(spec: ProjectSpec, i: int) -> str:
    c = spec.task.classes[i].color
    return c if c else _PALETTE[i % len(_PALETTE)]


def label_config_xml(spec: ProjectSpec) -> str:
    """The Label Studio labeling config for the spec's task (parses with LabelInterface)."""
    task = spec.task
    key = TASK_DATA_KEY[spec.data.type]
    obj = key  # the object tag's name equals its data key
    label = task.label_field
    lines = ["<View>"]
    header = task.instructions or f"{spec.dataset.name_ko} — {task.type}"
    lines.append(f"  <Header value={quoteattr(header)}/>")
    obj_tag = {
        "text": "Text",
        "image": "Image",
        "audio": "Audio",
        "video": "Video",
    }[key]
    if task.type == "ner":
        lines.append(f"  <Labels name={quoteattr(label)} toName={quoteattr(obj)}>")
        for i, c in enumerate(task.classes):
            lines.append(
                f"    <Label value={quoteattr(c.name)} background={quoteattr(_color(spec, i))}"
                f" hint={quoteattr(c.definition)}/>"
            )
        lines.append("  </Labels>")
        lines.append(f"  <{obj_tag} name={quoteattr(obj)} value={quoteattr('$' + key)}/>")
    elif task.type == "object_detection":
        lines.append(f"  <{obj_tag} name={quoteattr(obj)} value={quoteattr('$' + key)}/>")
        lines.append(f"  <RectangleLabels name={quoteattr(label)} toName={quoteattr(obj)}>")
        for i, c in enumerate(task.classes):
            lines.append(
                f"    <Label value={quoteattr(c.name)} background={quoteattr(_color(spec, i))}"
                f" hint={quoteattr(c.definition)}/>"
            )
        lines.append("  </RectangleLabels>")
    elif task.type == "transcription":
        lines.append(f"  <{obj_tag} name={quoteattr(obj)} value={quoteattr('$' + key)}/>")
        required = "true" if spec.label_field.required else "false"
        lines.append(
            f'  <TextArea name={quoteattr(label)} toName={quoteattr(obj)} rows="4"'
            f' editable="true" maxSubmissions="1" required="{required}"/>'
        )
    else:  # text/image classification
        lines.append(f"  <{obj_tag} name={quoteattr(obj)} value={quoteattr('$' + key)}/>")
        multiple = spec.label_field.type == "classes"
        choice = "multiple" if multiple else "single-radio"
        required = "true" if spec.label_field.required else "false"
        lines.append(
            f"  <Choices name={quoteattr(label)} toName={quoteattr(obj)}"
            f' choice="{choice}" required="{required}" showInline="true">'
        )
        for c in task.classes:
            lines.append(f"    <Choice value={quoteattr(c.name)} hint={quoteattr(c.definition)}/>")
        lines.append("  </Choices>")
    for attr in task.attributes:
        title = attr.description or attr.name
        req = "true" if attr.required else "false"
        lines.append(f'  <Header value={quoteattr(title)} size="6"/>')
        lines.append(
            f"  <Choices name={quoteattr(attr.name)} toName={quoteattr(obj)}"
            f' choice="single-radio" required="{req}" showInline="true">'
        )
        for v in attr.values:
            lines.append(f"    <Choice value={quoteattr(v)}/>")
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


# -- expectation suites ------------------------------------------------------------------

MANIFEST_STATUSES = ("ok", "duplicate", "quarantined")


def _exp(kind: str, rule: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"datakit_rule": rule}}


def labels_suite(spec: ProjectSpec) -> dict[str, Any]:
    """Suite over the label table: one row per label record, scalar fields as columns."""
    classes = list(spec.task.class_names)
    exps: list[dict[str, Any]] = [
        _exp("expect_column_to_exist", "id.exists", column="id"),
        _exp("expect_column_values_to_not_be_null", "id.not_null", column="id"),
        _exp("expect_column_values_to_be_unique", "id.unique", column="id"),
    ]
    for f in spec.fields:
        if f.name == "id":
            continue
        col = f.name
        exps.append(_exp("expect_column_to_exist", f"{col}.exists", column=col))
        if f.required:
            exps.append(_exp("expect_column_values_to_not_be_null", f"{col}.not_null", column=col))
        if f.type in ("class", "choice"):
            values = classes if f.type == "class" else list(f.values)
            exps.append(
                _exp(
                    "expect_column_values_to_be_in_set",
                    f"{col}.in_set",
                    column=col,
                    value_set=values,
                )
            )
        elif f.type in ("integer", "number") and (f.minimum is not None or f.maximum is not None):
            exps.append(
                _exp(
                    "expect_column_values_to_be_between",
                    f"{col}.between",
                    column=col,
                    min_value=f.minimum,
                    max_value=f.maximum,
                )
            )
        elif f.type == "string":
            if f.minimum is not None or f.maximum is not None:
                exps.append(
                    _exp(
                        "expect_column_value_lengths_to_be_between",
                        f"{col}.length",
                        column=col,
                        min_value=None if f.minimum is None else int(f.minimum),
                        max_value=None if f.maximum is None else int(f.maximum),
                    )
                )
            if f.pattern:
                exps.append(
                    _exp(
                        "expect_column_values_to_match_regex",
                        f"{col}.regex",
                        column=col,
                        regex=f.pattern,
                    )
                )
        elif f.type == "date":
            exps.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    f"{col}.date",
                    column=col,
                    regex=r"^\d{4}-\d{2}-\d{2}$",
                )
            )
        if f.unique:
            exps.append(_exp("expect_column_values_to_be_unique", f"{col}.unique", column=col))
    return {
        "name": f"{spec.dataset.id}.labels",
        "expectations": exps,
        "meta": {"datakit": {"table": "labels", "generated": True}},
        "notes": "Generated by `datakit plan` from the field dictionary. Do not edit; "
        "add your own suites as separate files in expectations/.",
    }


def manifest_suite(spec: ProjectSpec) -> dict[str, Any]:
    """Suite over ``data/manifest.parquet`` (columns: specs/manifest.schema.json)."""
    exps: list[dict[str, Any]] = [
        _exp("expect_column_values_to_not_be_null", "id.not_null", column="id"),
        _exp("expect_column_values_to_be_unique", "id.unique", column="id"),
        _exp(
            "expect_column_values_to_match_regex",
            "sha256.hex",
            column="sha256",
            regex=r"^[0-9a-f]{64}$",
        ),
        _exp(
            "expect_column_values_to_be_in_set",
            "status.in_set",
            column="status",
            value_set=list(MANIFEST_STATUSES),
        ),
        _exp("expect_column_values_to_be_between", "size.non_negative", column="size", min_value=0),
        _exp("expect_column_values_to_not_be_null", "media_type.not_null", column="media_type"),
        _exp("expect_column_values_to_not_be_null", "source.not_null", column="source"),
    ]
    req = spec.data
    ok = {"row_condition": 'status=="ok"', "condition_parser": "pandas"}
    if req.type in ("text", "tabular") and (
        req.text.min_length is not None or req.text.max_length is not None
    ):
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                "text_length.in_range",
                column="text_length",
                min_value=req.text.min_length,
                max_value=req.text.max_length,
                **ok,
            )
        )
    if req.type == "image":
        im = req.image
        for col, lo, hi in (
            ("width", im.min_width, im.max_width),
            ("height", im.min_height, im.max_height),
        ):
            if lo is not None or hi is not None:
                exps.append(
                    _exp(
                        "expect_column_values_to_be_between",
                        f"{col}.in_range",
                        column=col,
                        min_value=lo,
                        max_value=hi,
                        **ok,
                    )
                )
    if req.type == "audio":
        au = req.audio
        if au.sample_rates:
            exps.append(
                _exp(
                    "expect_column_values_to_be_in_set",
                    "sample_rate.in_set",
                    column="sample_rate",
                    value_set=list(au.sample_rates),
                    **ok,
                )
            )
        if au.min_duration is not None or au.max_duration is not None:
            exps.append(
                _exp(
                    "expect_column_values_to_be_between",
                    "duration.in_range",
                    column="duration",
                    min_value=au.min_duration,
                    max_value=au.max_duration,
                    **ok,
                )
            )
    return {
        "name": f"{spec.dataset.id}.manifest",
        "expectations": exps,
        "meta": {"datakit": {"table": "manifest", "generated": True}},
        "notes": "Generated by `datakit plan` from the data requirements. Do not edit.",
    }
