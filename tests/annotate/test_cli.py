"""The `datakit annotate` commands through the CLI."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datakit.cli.annotate import annotate_app

COMMANDS = ["install", "serve", "stop", "push", "pull", "import", "status", "simulate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("annotate", command, "--help")
    assert result.exit_code == 0
    assert "Example: datakit annotate" in result.output


def test_all_commands_are_registered() -> None:
    names = {c.name for c in annotate_app.registered_commands}
    assert names == set(COMMANDS)


def test_cli_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, datakit.cli.app; "
        "bad = [m for m in ('pandas','pyarrow','httpx','label_studio_sdk','great_expectations',"
        "'krippendorff','rapidfuzz') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unreachable_server_is_a_clean_error(planned_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from datakit.cli.app import app

    project = planned_project("text_classification", [{"id": "a", "text": "좋아요 정말로"}])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secret = "9" * 40
    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", secret)
    monkeypatch.setattr("datakit.annotate.client.time.sleep", lambda s: None)
    result = CliRunner().invoke(app, ["annotate", "push", "-p", str(project.root)])
    assert result.exit_code == 3
    assert "not reachable" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output and secret not in result.output


def test_no_server_configured_lists_every_place_looked(planned_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from datakit.cli.app import app

    project = planned_project("text_classification", [{"id": "a", "text": "좋아요 정말로"}])
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["annotate", "pull", "-p", str(project.root)])
    assert result.exit_code == 3
    assert "LABEL_STUDIO_URL" in result.output and "local server state" in result.output


def test_status_before_any_pull(cli, planned_project) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("text_classification", [])
    result = cli("annotate", "status", "-p", project.root, "--json")
    assert result.exit_code == 0 and json.loads(result.output) is None


def _free_port() -> int:
    from datakit.annotate.server import free_port

    return free_port()


@pytest.mark.labelstudio
@pytest.mark.slow
def test_serve_background_push_simulate_pull_stop(
    planned_project, label_studio, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The README's main job: a local server for the project, provisioned without the UI."""
    from datakit.annotate.server import find_label_studio, listening_address

    if label_studio.document_root is None:
        pytest.skip("an external server is configured; this test starts its own")
    assert find_label_studio() is not None, "scripts/test.sh installs Label Studio first"
    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    items = [{"id": f"c{i}", "text": f"리뷰 {i}: 좋아요", "intake_label": "긍정"} for i in range(8)]
    project = planned_project("text_classification", items)
    root = str(project.root)
    port = _free_port()
    env = {**os.environ}
    run = [sys.executable, "-m", "datakit"]
    out = subprocess.run(
        [*run, "annotate", "serve", "-p", root, "--background", "--port", str(port), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    try:
        assert out.returncode == 0, out.stderr
        info: dict[str, Any] = json.loads(out.stdout)
        assert info["url"] == f"http://127.0.0.1:{port}"
        assert listening_address(port) == "127.0.0.1"
        token = Path(root, ".datakit/label-studio/token")
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert len(token.read_text().strip()) == 40
        assert "/.datakit/" in Path(root, ".gitignore").read_text()
        for args in (
            ["annotate", "push", "-p", root, "--json"],
            ["annotate", "simulate", "-p", root, "--error-rate", "0", "--json"],
            ["annotate", "pull", "-p", root, "--json"],
        ):
            step = subprocess.run(
                [*run, *args], capture_output=True, text=True, env=env, timeout=300
            )
            assert step.returncode == 0, step.stderr
            assert token.read_text().strip() not in step.stdout + step.stderr
        pulled = json.loads(step.stdout)
        assert (
            pulled["labelled"] == 8 and pulled["agreement"]["value"] is None
        )  # all 긍정: κ undefined
        status = subprocess.run(
            [*run, "annotate", "status", "-p", root, "--json"],
            capture_output=True,
            text=True,
            env=env,
        )
        st = json.loads(status.stdout)
        assert st["items_cross_checked"] == 8 and st["annotations"] == 16
    finally:
        stop = subprocess.run(
            [*run, "annotate", "stop", "-p", root], capture_output=True, text=True, env=env
        )
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert listening_address(port) is None


def test_install_finds_an_existing_label_studio(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    venv = tmp_path / "ls-venv"
    exe = venv / "bin" / "label-studio"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n", encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setenv("DATAKIT_LABEL_STUDIO_VENV", str(venv))
    monkeypatch.chdir(tmp_path)  # outside any project: the env var and defaults are used
    r = cli("annotate", "install", "--json")
    assert r.exit_code == 0, r.output
    found = json.loads(r.stdout)
    assert found["installed"] is False
    assert found["label_studio"] == str(exe)  # the env var comes before PATH and defaults


def test_install_failure_is_a_clean_error(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from datakit.annotate import server

    monkeypatch.setattr(server, "find_label_studio", lambda configured=None: None)

    def broken_pip(cmd, **kwargs):  # type: ignore[no-untyped-def]
        if "pip" in cmd:
            raise subprocess.CalledProcessError(1, cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(server.subprocess, "run", broken_pip)
    monkeypatch.setattr(server, "DEFAULT_VENV", tmp_path / "venv")
    monkeypatch.chdir(tmp_path)
    r = cli("annotate", "install")
    assert r.exit_code == 2
    assert "could not install Label Studio" in r.stderr
    assert "pip install label-studio" in r.stderr  # the hint says how to do it by hand
    assert "Traceback" not in r.stderr
