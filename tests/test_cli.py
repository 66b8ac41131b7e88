"""The CLI shell: exit codes, error rendering, start-up cost, packaging of the schemas."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_init_plan_status_flow(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "reviews"
    r = cli("init", root, "--template", "text_classification", "--id", "reviews")
    assert r.exit_code == 0, r.output
    assert "created a text_classification project" in r.output

    r = cli("plan", "-p", root)
    assert r.exit_code == 0, r.output
    assert "created" in r.output and "긍정" in r.output and "99.5%" in r.output

    r = cli("plan", "-p", root, "--check", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["targets"]["per_class"]["긍정"] == 10

    r = cli("status", "-p", root, "--json")
    assert r.exit_code == 0
    status = json.loads(r.stdout)
    assert status["stages"]["plan"]["spec_changed_since"] is False
    assert status["stages"]["collect"] is None


def test_plan_check_exit_code_on_drift(cli, make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project("ner")
    r = cli("plan", "-p", root, "--check")
    assert r.exit_code == 1
    assert "missing" in r.output


def test_bad_spec_exit_2_without_traceback(cli, make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project("text_classification")
    spec = root / "datakit.yaml"
    spec.write_text(spec.read_text("utf-8").replace("stratify: label", "stratify: lable"), "utf-8")
    r = cli("plan", "-p", root)
    assert r.exit_code == 2
    assert "error: the project spec has an error (1 problem):" in r.stderr
    assert f"{spec}:" in r.stderr and "splits.stratify: 'lable' is not a declared field" in r.stderr
    assert "hint:" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_debug_shows_traceback(cli, make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project("text_classification")
    (root / "datakit.yaml").write_text("datakit: 2\n", "utf-8")
    r = cli("--debug", "plan", "-p", root)
    assert r.exit_code == 2
    assert "Traceback" in r.stderr


def test_not_a_project(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("status", "-p", tmp_path)
    assert r.exit_code == 2
    assert "no datakit.yaml found" in r.stderr and "datakit init" in r.stderr


def test_init_refuses_to_overwrite(cli, make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project("ner")
    before = (root / "datakit.yaml").read_bytes()
    r = cli("init", root, "--template", "transcription")
    assert r.exit_code == 2
    assert "--force" in r.stderr
    assert (root / "datakit.yaml").read_bytes() == before


def test_usage_error_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("plan", "--no-such-option")
    assert r.exit_code == 2


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    from datakit import __version__

    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"datakit {__version__}"


def test_help_imports_nothing_heavy() -> None:
    """`datakit --help` must not pay for pandas, pyarrow, GX or the Label Studio SDK.

    The wall time itself is measured by bench/bench_cli.py (timings do not belong in tests).
    """
    code = (
        "import sys\n"
        "from datakit.cli.app import app\n"
        "try:\n    app(['--help'], prog_name='datakit')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'great_expectations', 'label_studio_sdk',"
        " 'numpy', 'jsonschema', 'yaml', 'httpx', 'pydantic') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = next(x for x in out.stderr.splitlines() if x.startswith("HEAVY"))
    assert line == "HEAVY []", line


def test_python_dash_m(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "datakit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("datakit ")


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "datakit"
    if not exe.exists():
        pytest.fail(f"console script {exe} missing: is datakit installed in this environment?")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for command in ("init", "plan", "collect", "annotate", "check", "package", "verify", "status"):
        assert command in out.stdout


@pytest.mark.slow
def test_wheel_ships_the_schemas(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("datakit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "datakit/_specs/project.schema.json" in names
    assert "datakit/plan/templates/text_classification.yaml" in names
