"""Generate the reference pages of the docs from their single sources of truth.

    .venv/bin/python scripts/gen_docs.py          # rewrite docs/spec-reference.md and docs/cli.md
    .venv/bin/python scripts/gen_docs.py --check  # exit 1 when either page is out of date

* docs/spec-reference.md — every key of specs/project.schema.json with its type, whether
  it is required, its default and its description, then the bundled review-sentiment
  example's datakit.yaml as a complete spec.
* docs/cli.md — the ``--help`` of every datakit command and subcommand, as plain text
  (Rich's panels flattened, no ANSI codes, 100 columns), exactly what a user sees.

tests/test_docs.py fails when either page differs from what this script generates now.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "specs" / "project.schema.json"
SPEC_REFERENCE = REPO / "docs" / "spec-reference.md"
CLI_REFERENCE = REPO / "docs" / "cli.md"
EXAMPLE_SPEC = REPO / "examples" / "review-sentiment" / "datakit.yaml"
HELP_WIDTH = 100
HELP_ENV = {
    "COLUMNS": str(HELP_WIDTH),
    "LINES": "50",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "PY_COLORS": None,
    "TERMINAL_WIDTH": None,
}

# ---------------------------------------------------------------------------------------
# spec reference
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One key of the spec: dotted path (``<name>`` for free-form keys, ``[]`` for items)."""

    path: str
    type: str
    required: bool
    default: str
    description: str
    constraints: str


def _type_of(node: dict[str, Any]) -> str:
    if "const" in node:
        return f"const `{json.dumps(node['const'], ensure_ascii=False)}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    t = node.get("type")
    if isinstance(t, list):
        return " or ".join(t)
    if t == "array":
        items = node.get("items", {})
        inner = _type_of(items) if items else "any"
        if items.get("type") == "object" and "properties" in items:
            inner = "object"
        return f"list of {inner}"
    if (
        t == "object"
        and "properties" not in node
        and isinstance(node.get("additionalProperties"), dict)
    ):
        return f"map of {_type_of(node['additionalProperties'])}"
    return str(t or "any")


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    for key, word in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            parts.append(f"{word} {node[key]}")
    if "minLength" in node:
        parts.append(f"length ≥ {node['minLength']}")
    if "maxLength" in node:
        parts.append(f"length ≤ {node['maxLength']}")
    if "minItems" in node:
        parts.append(f"≥ {node['minItems']} item(s)")
    if "minProperties" in node:
        parts.append(f"≥ {node['minProperties']} key(s)")
    if node.get("uniqueItems"):
        parts.append("unique items")
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    if "format" in node:
        parts.append(f"format {node['format']}")
    names = node.get("propertyNames", {})
    if "enum" in names:
        parts.append("keys: " + ", ".join(f"`{v}`" for v in names["enum"]))
    return "; ".join(parts)


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    return f"`{json.dumps(node['default'], ensure_ascii=False)}`"


def iter_keys(node: dict[str, Any], prefix: str = "") -> Iterator[Key]:
    """Every key below ``node``, depth first, in schema order."""
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield Key(
            path,
            _type_of(child),
            name in required,
            _default(child),
            child.get("description", ""),
            _constraints(child),
        )
        yield from _children(child, path)


def _children(child: dict[str, Any], path: str) -> Iterator[Key]:
    if "properties" in child:
        yield from iter_keys(child, path)
    items = child.get("items")
    if isinstance(items, dict) and "properties" in items:
        yield from iter_keys(items, path + "[]")
    extra = child.get("additionalProperties")
    if isinstance(extra, dict) and "properties" not in child:
        name = _free_key_name(path)
        sub = f"{path}.<{name}>"
        if extra.get("type") == "object":
            yield Key(sub, _type_of(extra), False, "", "", _constraints(extra))
            inner = extra.get("additionalProperties")
            if isinstance(inner, dict):
                leaf = f"{sub}.<value>"
                yield Key(leaf, _type_of(inner), False, "", "", _constraints(inner))
        elif extra:
            yield Key(sub, _type_of(extra), False, "", "", _constraints(extra))


def _free_key_name(path: str) -> str:
    return {
        "targets.per_class": "class",
        "targets.composition": "attribute",
        "splits.ratios": "split",
    }.get(path, "key")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def spec_reference() -> str:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    out = [
        "<!-- Generated by scripts/gen_docs.py from specs/project.schema.json. "
        "Do not edit by hand: run `python scripts/gen_docs.py`. -->",
        "",
        "# Project spec reference (`datakit.yaml`)",
        "",
        _cell(schema.get("description", "")),
        "",
        "The spec is validated against `specs/project.schema.json` (JSON Schema draft "
        "2020-12) and then by datakit's own checks (duplicate class names, split ratios "
        "that do not sum to 1, per-class targets above the total, stratify/group keys "
        "that are not declared fields, …). Every error names the file, the key path and "
        "line, what was expected and what was found. `datakit init` writes a commented "
        "spec for each task type; the bundled examples (`examples/*/datakit.yaml`) are "
        "complete specs.",
        "",
        "Key paths are dotted; `[]` marks the items of a list and `<name>` a key you "
        "choose (a class name, an attribute, a split). *Required* is relative to the "
        "enclosing object.",
        "",
    ]
    required_top = set(schema.get("required", ()))
    for name, node in schema["properties"].items():
        out.append(f"## `{name}`" + (" (required)" if name in required_top else ""))
        out.append("")
        if node.get("description"):
            out.append(_cell(node["description"]))
            out.append("")
        rows = [
            Key(
                name,
                _type_of(node),
                name in required_top,
                _default(node),
                "",
                _constraints(node),
            ),
            *_children(node, name),
        ]
        out.append("| key | type | required | default | description |")
        out.append("|---|---|---|---|---|")
        for k in rows:
            desc = _cell(k.description)
            if k.constraints:
                desc = f"{desc} ({_cell(k.constraints)})" if desc else _cell(k.constraints)
            out.append(
                f"| `{k.path}` | {_cell(k.type)} | {'yes' if k.required else 'no'} "
                f"| {k.default} | {desc} |"
            )
        out.append("")
    example = EXAMPLE_SPEC.read_text(encoding="utf-8").rstrip("\n")
    out += [
        "## A complete spec",
        "",
        f"The bundled example `{EXAMPLE_SPEC.relative_to(REPO).as_posix()}` "
        "(Korean product-review sentiment), as committed:",
        "",
        "```yaml",
        example,
        "```",
        "",
    ]
    return "\n".join(out).rstrip() + "\n"


def schema_key_paths() -> list[str]:
    """Every key path of the schema (what spec-reference.md must mention)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return [k.path for k in iter_keys(schema)]


# ---------------------------------------------------------------------------------------
# CLI reference
# ---------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PANEL_TOP = re.compile(r"^╭─ (?P<title>.*?) ─+╮$")
_PANEL_BOTTOM = re.compile(r"^╰─+╯$")


def iter_commands() -> Iterator[tuple[str, ...]]:
    """The path of every visible command and subcommand: (), ("init",), ("annotate", "push")."""
    import typer.main

    from datakit.cli.app import app

    root = typer.main.get_command(app)

    # Typer 0.29 vendors click (typer._click), so duck-type groups instead of isinstance.
    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        subcommands: dict[str, Any] = getattr(cmd, "commands", None) or {}
        for name, sub in subcommands.items():
            if not getattr(sub, "hidden", False):
                yield from walk(sub, (*path, name))

    yield from walk(root, ())


def flatten_help(text: str) -> str:
    """Rich's help panels as plain text: titles become headings, borders go."""
    lines: list[str] = []
    for raw in _ANSI.sub("", text).splitlines():
        line = raw.rstrip()
        top = _PANEL_TOP.match(line)
        if top:
            lines.append(f"{top.group('title')}:")
            continue
        if _PANEL_BOTTOM.match(line):
            lines.append("")
            continue
        if line.startswith("│"):
            line = "  " + line[1:].rstrip().removesuffix("│").rstrip()
        lines.append(line)
    out: list[str] = []
    for line in lines:  # collapse runs of blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def command_help(path: tuple[str, ...]) -> str:
    """The plain-text ``--help`` of one command, as a user with a 100-column terminal sees it."""
    import typer.rich_utils as rich_utils
    from typer.testing import CliRunner

    from datakit.cli.app import app

    # Typer reads TERMINAL_WIDTH and FORCE_COLOR once, at import: pin both for stable output.
    saved = rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL
    rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL = HELP_WIDTH, False
    try:
        result = CliRunner().invoke(app, [*path, "--help"], env=HELP_ENV, prog_name="datakit")
    finally:
        rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL = saved
    if result.exit_code != 0:
        raise RuntimeError(f"`datakit {' '.join(path)} --help` failed:\n{result.output}")
    return flatten_help(result.output)


def cli_reference() -> str:
    paths = list(iter_commands())
    out = [
        "<!-- Generated by scripts/gen_docs.py from `datakit … --help`. "
        "Do not edit by hand: run `python scripts/gen_docs.py`. -->",
        "",
        "# CLI reference",
        "",
        "Every command's `--help`, as printed in a 100-column terminal. Each command also "
        "accepts `--help`/`-h`; the global options (`--debug`, `--version`) go before the "
        "command name. Exit codes: 0 ok · 1 a quality gate or check failed · 2 bad input "
        "or usage · 3 an external service failed · 130 interrupted.",
        "",
        "Commands:",
        "",
    ]
    for path in paths:
        name = " ".join(("datakit", *path))
        anchor = "-".join(("datakit", *path))
        out.append(f"- [`{name}`](#{anchor})")
    out.append("")
    for path in paths:
        out.append(f"## {' '.join(('datakit', *path))}")
        out.append("")
        out.append("```text")
        out.append(command_help(path).rstrip("\n"))
        out.append("```")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------


def render() -> dict[Path, str]:
    return {SPEC_REFERENCE: spec_reference(), CLI_REFERENCE: cli_reference()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate docs/spec-reference.md and docs/cli.md.")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when out of date")
    args = ap.parse_args(argv)
    stale = []
    for path, text in render().items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
    rel = [p.relative_to(REPO).as_posix() for p in stale]
    if args.check:
        if rel:
            print("out of date: " + ", ".join(rel), file=sys.stderr)
            print("run `python scripts/gen_docs.py`", file=sys.stderr)
        return 1 if rel else 0
    print("updated: " + ", ".join(rel) if rel else "docs are up to date")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
