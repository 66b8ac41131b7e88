"""The generated reference pages never drift from their sources, and every command's help
carries an example."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
REGENERATE = "docs are out of date: run `python scripts/gen_docs.py` and commit the result"


def _load_script(name: str) -> ModuleType:
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"datakit_scripts_{name}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen_docs() -> ModuleType:
    return _load_script("gen_docs")


@pytest.fixture(scope="module")
def commands(gen_docs: ModuleType) -> list[tuple[str, ...]]:
    return list(gen_docs.iter_commands())


@pytest.fixture(scope="module")
def helps(gen_docs: ModuleType, commands: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    return {path: gen_docs.command_help(path) for path in commands}


def test_spec_reference_is_current(gen_docs: ModuleType) -> None:
    committed = (DOCS / "spec-reference.md").read_text(encoding="utf-8")
    assert committed == gen_docs.spec_reference(), REGENERATE


def test_cli_reference_is_current(gen_docs: ModuleType) -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == gen_docs.cli_reference(), REGENERATE


def test_every_schema_key_is_documented(gen_docs: ModuleType) -> None:
    text = (DOCS / "spec-reference.md").read_text(encoding="utf-8")
    paths = gen_docs.schema_key_paths()
    # the schema's deepest keys, spelled out so that a walker bug cannot hide them
    for expected in (
        "dataset.organizations.inspector",
        "data.requirements.audio.max_duration",
        "task.classes[].counter_examples",
        "task.attributes[].ordinal",
        "fields[].unique",
        "targets.quality.agreement",
        "annotation.label_studio.api_key_env",
        "splits.group",
        "pii.keep_length",
    ):
        assert expected in paths
    missing = [p for p in paths if f"`{p}`" not in text]
    assert not missing, f"keys missing from docs/spec-reference.md: {missing}. {REGENERATE}"


def test_schema_defaults_are_documented(gen_docs: ModuleType) -> None:
    text = (DOCS / "spec-reference.md").read_text(encoding="utf-8")
    row = next(
        line for line in text.splitlines() if line.startswith("| `targets.quality.syntactic`")
    )
    assert "`0.995`" in row
    row = next(line for line in text.splitlines() if line.startswith("| `pii.action`"))
    assert "`flag`, `mask`, `drop`" in row and '`"mask"`' in row


def test_every_command_is_in_the_cli_reference(commands: list[tuple[str, ...]]) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert () in commands and ("init",) in commands and ("plan",) in commands
    for path in commands:
        assert f"## {' '.join(('datakit', *path))}\n" in text, REGENERATE


def test_every_command_has_an_example(helps: dict[tuple[str, ...], str]) -> None:
    without = [" ".join(("datakit", *p)) for p, h in helps.items() if "Example:" not in h]
    assert not without, f"commands whose --help has no 'Example:' line: {without}"


def test_help_is_plain_text(helps: dict[tuple[str, ...], str]) -> None:
    for path, text in helps.items():
        assert "\x1b[" not in text, path
        assert not re.search(r"[╭╮╰╯│]", text), path
        assert all(len(line) <= 100 for line in text.splitlines()), path
        assert all(line == line.rstrip() for line in text.splitlines()), path


def test_flatten_help_turns_panels_into_headings(gen_docs: ModuleType) -> None:
    raw = (
        "\x1b[1m Usage: \x1b[0mdatakit plan [OPTIONS]   \n\n"
        "╭─ Options ──────────╮\n"
        "│ --check  Change nothing. │\n"
        "╰────────────────────╯\n\n\n"
    )
    assert gen_docs.flatten_help(raw) == (
        " Usage: datakit plan [OPTIONS]\n\nOptions:\n   --check  Change nothing.\n"
    )


def test_check_mode_reports_stale_docs(
    gen_docs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "spec-reference.md"
    stale.write_text("old\n", encoding="utf-8")
    fresh = tmp_path / "cli.md"
    monkeypatch.setattr(gen_docs, "render", lambda: {stale: "new\n", fresh: "same\n"}, raising=True)
    fresh.write_text("same\n", encoding="utf-8")
    monkeypatch.setattr(gen_docs, "REPO", tmp_path)
    assert gen_docs.main(["--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "old\n"  # --check writes nothing
    assert gen_docs.main([]) == 0
    assert stale.read_text(encoding="utf-8") == "new\n"
    assert gen_docs.main(["--check"]) == 0


def test_hand_written_docs_link_to_existing_pages() -> None:
    for name in ("getting-started.md", "aihub-mapping.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", text):
            assert (DOCS / target).resolve().is_file(), f"{name} links to missing {target}"


def test_documented_commands_exist(commands: list[tuple[str, ...]]) -> None:
    """Every `datakit <command>` named in the hand-written docs is a real command."""
    known = {p[0] for p in commands if p}
    for name in ("getting-started.md", "aihub-mapping.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        used = set(re.findall(r"`datakit ([a-z][a-z-]*)", text))
        unknown = sorted(used - known)
        assert not unknown, f"{name} documents commands that do not exist: {unknown}"


def _documented_command_lines() -> list[tuple[str, str]]:
    """(file, command line) for every `datakit …` line in the bash blocks of the docs."""
    files = [DOCS / "getting-started.md", *sorted((REPO / "examples").glob("*/README.md"))]
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                for part in line.split("&&"):
                    part = part.strip()
                    if part.startswith("datakit "):
                        found.append((path.relative_to(REPO).as_posix(), part))
    return found


def test_documented_command_lines_parse() -> None:
    """Every command line in the docs and example READMEs names real commands and options."""
    import shlex

    import typer.main

    from datakit.cli.app import app

    root = typer.main.get_command(app)
    lines = _documented_command_lines()
    assert len(lines) > 30
    for where, line in lines:
        args = shlex.split(line)[1:]
        cmd: object = root
        path = ["datakit"]
        while args and args[0] in (getattr(cmd, "commands", None) or {}):
            path.append(args[0])
            cmd = cmd.commands[args.pop(0)]  # type: ignore[attr-defined]
        assert len(path) > 1, f"{where}: `{line}` names no datakit command"
        try:
            cmd.make_context(" ".join(path), args)  # type: ignore[attr-defined]
        except Exception as exc:  # click's UsageError family, whichever click is vendored
            raise AssertionError(f"{where}: `{line}` does not parse: {exc}") from exc
