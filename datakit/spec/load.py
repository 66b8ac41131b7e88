"""Load ``datakit.yaml``: parse once, validate against ``specs/project.schema.json``, run the
semantic checks the schema cannot express, and build the typed :class:`ProjectSpec`.

Every problem names the file, the key path, the line (from the YAML parser) and what was
expected against what was found. All problems are collected and raised together.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from datakit.errors import SpecError, SpecProblem
from datakit.schemas import load_schema
from datakit.spec.model import (
    DEFAULT_LABEL_FIELD,
    LABEL_FIELD_TYPE,
    PII_KINDS,
    TASK_DATA_TYPE,
    VALIDITY_METRICS,
    Annotation,
    Attribute,
    AudioRequirements,
    CollectSettings,
    Data,
    Dataset,
    EngineSettings,
    FieldDef,
    ImageRequirements,
    LabelClass,
    LabelStudioSettings,
    NearDuplicateSettings,
    Organizations,
    PiiPolicy,
    ProjectSpec,
    QualityTargets,
    Splits,
    Targets,
    Task,
    TextRequirements,
    ValidityTarget,
)

PathElem = str | int
# Item attributes every manifest has, usable as diversity attributes without a field entry.
BUILTIN_ITEM_ATTRIBUTES = ("source", "license", "media_type", "consent")


def format_path(path: Iterable[PathElem]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def suggest(word: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


class _Lines:
    """Maps key paths to line numbers using the composed YAML node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, path: Sequence[PathElem], *, key: bool = False) -> int | None:
        node = self.root
        if node is None:
            return None
        last_key_node: yaml.Node | None = None
        for elem in path:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == elem:
                        last_key_node, node = k, v
                        break
                else:
                    break
            elif isinstance(node, yaml.SequenceNode) and isinstance(elem, int):
                if elem >= len(node.value):
                    break
                node, last_key_node = node.value[elem], None
            else:
                break
        # Problems about a whole mapping or list point at its key's line, not its first child.
        on_key = key or isinstance(node, yaml.MappingNode | yaml.SequenceNode)
        target = last_key_node if (on_key and last_key_node is not None) else node
        return int(target.start_mark.line) + 1


def parse_yaml(path: Path) -> tuple[Any, _Lines]:
    """Parse a YAML file into data plus a line map. Syntax errors become SpecErrors."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            [SpecProblem(file, "", "file not found")],
            hint="run `datakit init DIR` to create a project, or pass --project DIR",
        ) from None
    except UnicodeDecodeError as exc:
        raise SpecError([SpecProblem(file, "", f"not valid UTF-8 ({exc.reason})")]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = f"invalid YAML: {exc.problem or exc.context}"
        raise SpecError([SpecProblem(file, "", msg, line)]) from None
    finally:
        loader.dispose()
    duplicates = _duplicate_keys(node, file)
    if duplicates:
        raise SpecError(duplicates, hint="a key may appear once per section; keep the one you mean")
    return data, _Lines(node)


def _duplicate_keys(node: yaml.Node | None, file: str, path: str = "") -> list[SpecProblem]:
    """Every key written twice in one mapping (YAML itself lets the last one win quietly)."""
    out: list[SpecProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = str(k.value)
            here = f"{path}.{key}" if path else key
            line = int(k.start_mark.line) + 1
            if key in seen:
                out.append(
                    SpecProblem(
                        file,
                        here,
                        f"duplicate key (also on line {seen[key]}); the last one would win",
                        line,
                    )
                )
            else:
                seen[key] = line
            out += _duplicate_keys(v, file, here)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out += _duplicate_keys(v, file, f"{path}[{i}]")
    return out


def load_spec(path: str | Path) -> ProjectSpec:
    """Load and validate a project spec file. Raises :class:`SpecError` with every problem."""
    p = Path(path)
    data, lines = parse_yaml(p)
    problems = validate_spec_data(data, str(p), lines)
    if problems:
        raise SpecError(problems)
    return build_spec(data)


def validate_spec_data(data: Any, file: str, lines: _Lines | None = None) -> list[SpecProblem]:
    """Schema problems first; semantic checks only run on a schema-valid document."""
    lines = lines or _Lines(None)
    problems = _schema_problems(data, file, lines)
    if not problems:
        problems = _semantic_problems(data, file, lines)
    return sorted(problems, key=lambda p: (p.line or 0, p.path))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _found(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {_type_name(value)}"
    return f"{_type_name(value)} {value!r}"


def _schema_problems(data: Any, file: str, lines: _Lines) -> list[SpecProblem]:
    from jsonschema import Draft202012Validator

    schema = load_schema("project")
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems: list[SpecProblem] = []
    for err in validator.iter_errors(data):
        path = list(err.absolute_path)
        kind = err.validator
        expected = err.validator_value
        value = err.instance
        if kind == "additionalProperties" and isinstance(value, dict):
            known = list(err.schema.get("properties", {}))
            for extra in sorted(set(value) - set(known)):
                msg = f"unknown key '{extra}'{suggest(str(extra), known)}"
                kpath = [*path, extra]
                problems.append(
                    SpecProblem(file, format_path(kpath), msg, lines.line(kpath, key=True))
                )
            continue
        if kind == "required":
            missing = [k for k in expected if isinstance(value, dict) and k not in value]
            for key in missing:
                problems.append(
                    SpecProblem(
                        file, format_path(path), f"missing required key '{key}'", lines.line(path)
                    )
                )
            continue
        if kind == "type":
            names = expected if isinstance(expected, list) else [expected]
            msg = f"expected {' or '.join(_schema_type(t) for t in names)}, found {_found(value)}"
        elif kind == "enum":
            msg = f"expected one of {', '.join(map(str, expected))}; found {_found(value)}"
        elif kind == "const":
            msg = f"expected {expected!r}, found {_found(value)}"
        elif kind == "pattern":
            msg = f"expected a string matching {expected}, found {_found(value)}"
        elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            sym = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤"}.get(kind, "<")
            msg = f"expected a number {sym} {expected}, found {_found(value)}"
        elif kind == "minLength":
            msg = f"expected a string of at least {expected} character(s), found {_found(value)}"
        elif kind == "minItems":
            msg = f"expected at least {expected} item(s), found {len(value)}"
        elif kind == "uniqueItems":
            msg = f"expected unique items, found duplicates in {value!r}"
        elif kind == "propertyNames":
            msg = f"unknown key; {err.message}"
        elif kind == "format":
            msg = f"expected a valid {expected}, found {_found(value)}"
        else:
            msg = err.message
        problems.append(SpecProblem(file, format_path(path), msg, lines.line(path)))
    return problems


def _schema_type(t: str) -> str:
    return {"object": "a mapping", "array": "a list", "null": "null"}.get(t, f"a {t}")


# The same bound stated twice: data.requirements (collect quarantines what misses it) and
# the field dictionary (the label schema refuses it). They must agree.
_SAME_BOUND = (
    ("text", "min_length", "text", "minimum"),
    ("text", "max_length", "text", "maximum"),
    ("image", "min_width", "width", "minimum"),
    ("image", "max_width", "width", "maximum"),
    ("image", "min_height", "height", "minimum"),
    ("image", "max_height", "height", "maximum"),
)


def _requirement_drift(
    data: dict[str, Any], field_names: dict[str, int], file: str, lines: _Lines
) -> list[SpecProblem]:
    out = []
    req = data.get("data", {}).get("requirements", {})
    for kind, req_key, field, bound in _SAME_BOUND:
        a = req.get(kind, {}).get(req_key)
        i = field_names.get(field)
        b = data["fields"][i].get(bound) if i is not None else None
        if a is None or b is None or i is None or float(a) == float(b):
            continue
        req_path: list[PathElem] = ["data", "requirements", kind, req_key]
        field_path: list[PathElem] = ["fields", i, bound]
        out.append(
            SpecProblem(
                file,
                format_path(req_path),
                f"{a} contradicts {format_path(field_path)} = {b} "
                f"(line {lines.line(field_path)}): both bound the same value; make them equal "
                "(collect quarantines by the first, the label schema refuses by the second)",
                lines.line(req_path),
            )
        )
    return out


def _semantic_problems(data: dict[str, Any], file: str, lines: _Lines) -> list[SpecProblem]:
    problems: list[SpecProblem] = []

    def add(path: Sequence[PathElem], msg: str, *, key: bool = False) -> None:
        problems.append(SpecProblem(file, format_path(path), msg, lines.line(path, key=key)))

    task = data["task"]
    task_type = task["type"]
    fields = data["fields"]
    field_names: dict[str, int] = {}
    for i, f in enumerate(fields):
        if f["name"] in field_names:
            add(
                ["fields", i, "name"],
                f"duplicate field name '{f['name']}' (first at fields[{field_names[f['name']]}])",
            )
        else:
            field_names[f["name"]] = i
        lo, hi = f.get("minimum"), f.get("maximum")
        if lo is not None and hi is not None and lo > hi:
            add(["fields", i], f"minimum {lo} is greater than maximum {hi}")
        if f["type"] == "choice" and "values" not in f:
            add(["fields", i], "a choice field needs `values`")
        if f.get("pattern") is not None and f["type"] != "string":
            add(["fields", i, "pattern"], f"pattern only applies to string fields, not {f['type']}")
    if "id" not in field_names:
        add(["fields"], "no 'id' field; every label record needs an `id` (type string)")
    elif fields[field_names["id"]]["type"] != "string":
        add(["fields", field_names["id"], "type"], "the `id` field must be of type string")
    problems += _requirement_drift(data, field_names, file, lines)

    validity = data.get("targets", {}).get("quality", {}).get("validity", {})
    metric = validity.get("metric")
    if metric is not None and metric not in VALIDITY_METRICS[task_type]:
        add(
            ["targets", "quality", "validity", "metric"],
            f"metric '{metric}' does not fit task {task_type}; "
            f"expected one of {', '.join(VALIDITY_METRICS[task_type])}",
        )

    data_type = data["data"]["type"]
    if data_type not in TASK_DATA_TYPE[task_type]:
        want = " or ".join(TASK_DATA_TYPE[task_type])
        add(["data", "type"], f"a {task_type} task needs data.type {want}, found '{data_type}'")

    label_field = task.get("label_field", DEFAULT_LABEL_FIELD[task_type])
    if label_field not in field_names:
        where = ["task", "label_field"] if "label_field" in task else ["fields"]
        add(
            where,
            f"label field '{label_field}' is not a declared field"
            f"{suggest(label_field, field_names)}",
        )
    else:
        ftype = fields[field_names[label_field]]["type"]
        allowed = LABEL_FIELD_TYPE[task_type]
        if ftype not in allowed:
            add(
                ["fields", field_names[label_field], "type"],
                f"the label field of a {task_type} task must be of type "
                f"{' or '.join(allowed)}, found '{ftype}'",
            )

    classes = task["classes"]
    seen: dict[str, int] = {}
    for i, c in enumerate(classes):
        if c["name"] in seen:
            add(
                ["task", "classes", i, "name"],
                f"duplicate class name '{c['name']}' (first at task.classes[{seen[c['name']]}])",
            )
        else:
            seen[c["name"]] = i
    min_classes = {"text_classification": 2, "image_classification": 2, "transcription": 0}
    need = min_classes.get(task_type, 1)
    if len(classes) < need:
        add(
            ["task", "classes"],
            f"a {task_type} task needs at least {need} classes, found {len(classes)}",
        )

    for i, attr in enumerate(task.get("attributes", [])):
        if attr["name"] not in field_names:
            add(
                ["task", "attributes", i, "name"],
                f"attribute '{attr['name']}' has no entry in `fields`"
                f"{suggest(attr['name'], field_names)}",
            )
        if len(set(attr["values"])) != len(attr["values"]):
            add(["task", "attributes", i, "values"], "duplicate values")

    targets = data.get("targets", {})
    per_class = targets.get("per_class", {})
    for name in per_class:
        if name not in seen:
            add(
                ["targets", "per_class", name],
                f"'{name}' is not a class in task.classes{suggest(name, seen)}",
                key=True,
            )
    total = targets.get("total")
    if total is not None and per_class and sum(per_class.values()) > total:
        add(
            ["targets", "per_class"],
            f"per-class targets add up to {sum(per_class.values())}, "
            f"more than targets.total {total}",
        )
    attr_names = set(field_names) | set(BUILTIN_ITEM_ATTRIBUTES)
    for attr, shares in targets.get("composition", {}).items():
        if attr not in attr_names:
            add(
                ["targets", "composition", attr],
                f"'{attr}' is neither a declared field nor one of "
                f"{', '.join(BUILTIN_ITEM_ATTRIBUTES)}{suggest(attr, attr_names)}",
                key=True,
            )
        s = sum(shares.values())
        if not math.isclose(s, 1.0, abs_tol=1e-6):
            add(["targets", "composition", attr], f"shares must sum to 1, found {s:g}")

    splits = data.get("splits", {})
    ratios = splits.get("ratios")
    if ratios is not None:
        s = sum(ratios.values())
        if not math.isclose(s, 1.0, abs_tol=1e-6):
            parts = " + ".join(f"{k} {v:g}" for k, v in ratios.items())
            add(["splits", "ratios"], f"ratios must sum to 1, found {s:g} ({parts})")
        if ratios.get("train", 0) <= 0:
            add(["splits", "ratios"], "the train split needs a ratio above 0")
    for key in ("stratify", "group"):
        name = splits.get(key)
        if name is not None and name not in field_names:
            add(
                ["splits", key],
                f"'{name}' is not a declared field{suggest(name, field_names)}",
            )
    return problems


def _t(xs: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(xs or ())


def build_spec(d: dict[str, Any]) -> ProjectSpec:
    """Typed objects from a dict that passed :func:`validate_spec_data`."""
    ds = d["dataset"]
    org = ds.get("organizations", {})
    contact = ds.get("contact", {})
    dataset = Dataset(
        id=ds["id"],
        name_ko=ds["name"]["ko"],
        name_en=ds["name"]["en"],
        version=ds["version"],
        license=ds["license"],
        domain=ds.get("domain"),
        purpose=ds.get("purpose"),
        services=_t(ds.get("services")),
        keywords=_t(ds.get("keywords")),
        year=ds.get("year"),
        release_date=str(ds["release_date"]) if ds.get("release_date") else None,
        organizations=Organizations(**org),
        contact_name=contact.get("name"),
        contact_email=contact.get("email"),
    )
    dd = d["data"]
    req = dd.get("requirements", {})
    img = req.get("image", {})
    aud = req.get("audio", {})
    data = Data(
        type=dd["type"],
        formats=_t(dd.get("formats")),
        text=TextRequirements(**req.get("text", {})),
        image=ImageRequirements(**{**img, "modes": _t(img.get("modes"))}),
        audio=AudioRequirements(
            **{
                **aud,
                "sample_rates": _t(aud.get("sample_rates")),
                "channels": _t(aud.get("channels")),
            }
        ),
    )
    td = d["task"]
    task = Task(
        type=td["type"],
        label_field=td.get("label_field", DEFAULT_LABEL_FIELD[td["type"]]),
        instructions=td.get("instructions"),
        classes=tuple(
            LabelClass(
                name=c["name"],
                definition=c["definition"],
                en=c.get("en"),
                examples=_t(c.get("examples")),
                counter_examples=_t(c.get("counter_examples")),
                color=c.get("color"),
            )
            for c in td["classes"]
        ),
        attributes=tuple(
            Attribute(
                name=a["name"],
                values=_t(a["values"]),
                description=a.get("description"),
                required=a.get("required", False),
                ordinal=a.get("ordinal", False),
            )
            for a in td.get("attributes", [])
        ),
    )
    fields = tuple(
        FieldDef(
            name=f["name"],
            type=f["type"],
            description=f["description"],
            required=f.get("required", True),
            group=f.get("group"),
            minimum=f.get("minimum"),
            maximum=f.get("maximum"),
            pattern=f.get("pattern"),
            values=_t(f.get("values")),
            unique=f.get("unique", False),
            note=f.get("note"),
        )
        for f in d["fields"]
    )
    tg = d.get("targets", {})
    targets = Targets(
        total=tg.get("total"),
        per_class=dict(tg.get("per_class", {})),
        composition={k: dict(v) for k, v in tg.get("composition", {}).items()},
        quality=QualityTargets(
            **{k: v for k, v in tg.get("quality", {}).items() if k != "validity"},
            validity=ValidityTarget(**tg.get("quality", {}).get("validity", {})),
        ),
    )
    an = d.get("annotation", {})
    annotation = Annotation(
        **{k: v for k, v in an.items() if k != "label_studio"},
        label_studio=LabelStudioSettings(**an.get("label_studio", {})),
    )
    sp = d.get("splits", {})
    splits = Splits(
        ratios=dict(sp.get("ratios", {"train": 0.8, "validation": 0.1, "test": 0.1})),
        seed=sp.get("seed", 42),
        stratify=sp.get("stratify"),
        group=sp.get("group"),
        tolerance=float(sp.get("tolerance", 0.02)),
        cross_group_near_duplicates=sp.get("cross_group_near_duplicates", "exclude"),
    )
    pi = d.get("pii", {})
    pii = PiiPolicy(
        detect=_t(pi.get("detect", PII_KINDS)),
        action=pi.get("action", "mask"),
        mask_char=pi.get("mask_char", "*"),
        keep_length=pi.get("keep_length", True),
        pseudonym_key_env=pi.get("pseudonym_key_env", "DATAKIT_PSEUDONYM_KEY"),
    )
    en = d.get("engine", {})
    engine = EngineSettings(
        name=en.get("name", "local"),
        master=en.get("master"),
        conf={
            str(k): str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in en.get("conf", {}).items()
        },
    )
    nd = d.get("collect", {}).get("near_duplicates", {})
    collect = CollectSettings(near_duplicates=NearDuplicateSettings(**nd))
    return ProjectSpec(
        dataset=dataset,
        data=data,
        task=task,
        fields=fields,
        targets=targets,
        annotation=annotation,
        splits=splits,
        pii=pii,
        engine=engine,
        collect=collect,
        raw=d,
    )
