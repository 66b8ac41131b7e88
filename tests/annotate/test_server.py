"""The local Label Studio server: where it is found, how it binds, where secrets live."""

from __future__ import annotations

import stat
import urllib.parse
from pathlib import Path

import pytest

from datakit.annotate import server
from datakit.annotate.client import connect
from datakit.errors import LabelStudioError, ProjectError


def test_not_found_lists_every_place_looked(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(server.VENV_ENV, str(tmp_path / "env-venv"))
    monkeypatch.setattr(server, "DEFAULT_VENV", tmp_path / "default-venv")
    assert server.find_label_studio(str(tmp_path / "spec-venv")) is None
    err = server.not_found_error(str(tmp_path / "spec-venv"))
    assert isinstance(err, ProjectError)
    for where in ("spec annotation.label_studio.venv", server.VENV_ENV, "PATH", "default venv"):
        assert where in err.message
    assert err.hint and "--install" in err.hint and "pip install label-studio" in err.hint


def test_found_in_configured_venv(tmp_path: Path) -> None:
    exe = tmp_path / "v" / "bin" / "label-studio"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert server.find_label_studio(str(tmp_path / "v")) == exe


def test_gitignore_gets_the_state_folder_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    server.ensure_gitignored(tmp_path)
    server.ensure_gitignored(tmp_path)
    assert (tmp_path / ".gitignore").read_text().splitlines() == ["*.pyc", "/.datakit/"]


def test_secret_files_are_private(tmp_path: Path) -> None:
    files = server.ServerFiles(tmp_path / "ls")
    value = server._secret_file(files.token, lambda: "a" * 40)
    assert value == "a" * 40 and server.read_token(files) == "a" * 40
    assert stat.S_IMODE(files.token.stat().st_mode) == 0o600
    assert server._secret_file(files.token, lambda: "b" * 40) == "a" * 40  # stable


def test_connect_prefers_env_then_local_state(planned_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("text_classification", [])
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(LabelStudioError):
        connect(project)
    files = server.server_files(project.root)
    server._secret_file(files.token, lambda: "c" * 40)
    from datakit.io import write_json

    write_json(files.state, {"url": "http://127.0.0.1:9", "document_root": str(project.root)})
    conn = connect(project)
    assert conn.source == "local server" and conn.document_root == project.root
    assert "c" * 40 not in repr(conn)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://remote.example:8080/")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "d" * 40)
    conn = connect(project)
    assert conn.url == "http://remote.example:8080" and conn.document_root is None


@pytest.mark.labelstudio
def test_local_server_binds_loopback_only(label_studio) -> None:  # type: ignore[no-untyped-def]
    if label_studio.document_root is None:
        pytest.skip("an external server is configured")
    port = urllib.parse.urlsplit(label_studio.url).port
    assert port and server.listening_address(port) == "127.0.0.1"
    assert server.health(label_studio.url)
