"""The release: layout, gate, reproducible bytes, metadata validation, PII, never overwriting."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from datakit.errors import InputError, ReleaseError
from datakit.io import read_json
from datakit.package.run import package
from tests.package.builders import write_quality


def _sums(path: Path) -> dict[str, str]:
    out = {}
    for line in (path / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        out[name] = digest
    return out


def test_release_layout_and_metadata(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=60)
    result = package(project, layouts=["aihub"])
    root = project.paths.releases / "1.0"
    assert result.path == root and root.is_dir()
    assert result.splits == {"train": 48, "validation": 6, "test": 6}
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    for expected in (
        "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet",
        "data/test-00000-of-00001.parquet",
        "metadata.json",
        "README.md",
        "데이터설명서.md",
        "croissant.json",
        "SHA256SUMS",
    ):
        assert expected in names
    assert set(_sums(root)) == names - {"SHA256SUMS"}
    meta = read_json(root / "metadata.json")
    assert meta["counts"]["splits"] == result.splits
    assert meta["counts"]["classes"]["긍정"] == {"test": 2, "train": 16, "validation": 2}
    assert meta["leakage"]["total"] == 0
    assert meta["quality"]["state"] == "passed"
    assert meta["release"] == {
        "version": "1.0",
        "date": "2026-11-01",
        "date_source": "spec",
        "layouts": ["aihub", "huggingface"],
        "media": "none",
        "engine": "local",
    }
    assert meta["provenance"]["spec_sha256"] == project.spec_hash
    # Label fields typed per the field dictionary, lineage present.
    schema = pq.read_schema(root / "data/train-00000-of-00001.parquet")
    assert str(schema.field("label").type) == "string"
    assert str(schema.field("annotation_ids").type) == "list<element: int64>"
    assert schema.field("n_annotators").type.bit_width == 32
    # AI Hub tree: Training and Validation only, one label JSON per item.
    aihub = [n for n in names if n.startswith("aihub/")]
    assert not any("Test" in n for n in aihub)
    tl = [root / n for n in aihub if "/TL_" in n]
    members = [m for z in tl for m in zipfile.ZipFile(z).namelist()]
    assert len(members) == 48 and all(m.endswith(".json") for m in members)
    desc = (root / "데이터설명서.md").read_text(encoding="utf-8")
    for heading in (
        "기본 메타데이터",
        "데이터셋 개요",
        "데이터셋 통계",
        "데이터셋 구성",
        "변경이력",
    ):
        assert heading in desc
    assert "| 긍정 | 16 | 2 | 2 | 20 | 33.3% |" in desc
    assert project.stage_record("package")["summary"]["total"] == 60  # type: ignore[index]


def test_rebuild_is_byte_identical(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=80, group=lambda i: f"g{i % 9}")
    first = package(project, layouts=["aihub"])
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy, ignore=shutil.ignore_patterns("releases", ".datakit"))
    from datakit.project import Project

    second = package(Project(copy), layouts=["aihub"])
    assert _sums(first.path) == _sums(second.path)
    assert (first.path / "metadata.json").read_bytes() == (
        second.path / "metadata.json"
    ).read_bytes()


def test_an_existing_version_is_never_overwritten(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=30)
    first = package(project)
    before = _sums(first.path)
    with pytest.raises(ReleaseError, match="already exists"):
        package(project)
    assert _sums(first.path) == before
    other = package(project, version="1.1")
    assert other.path.name == "1.1"
    desc = (other.path / "데이터설명서.md").read_text(encoding="utf-8")
    assert "| 1.0 | 2026-11-01 | 최초 공개 (30건) |" in desc  # change history lists 1.0


def test_interrupted_run_leaves_nothing_and_a_rerun_finishes(ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import datakit.package.run as run

    project = ready(n=30)

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "write_sums", boom)  # fault injection: dies just before the rename
    with pytest.raises(KeyboardInterrupt):
        package(project)
    assert not (project.paths.releases / "1.0").exists()
    assert not list(project.paths.releases.glob(".tmp-*"))
    monkeypatch.undo()
    # A stale temporary folder from a kill -9 is cleared by the next run.
    (project.paths.releases / ".tmp-1.0-99999").mkdir()
    assert package(project).total == 30
    assert not list(project.paths.releases.glob(".tmp-*"))


@pytest.mark.parametrize("state", ["missing", "failed", "stale-labels", "stale-spec"])
def test_gate_refuses_missing_failed_or_stale_checks(ready, state: str) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=30, quality=None if state == "missing" else state != "failed")
    if state == "stale-labels":
        with project.paths.labels.open("a", encoding="utf-8") as fh:
            fh.write("\n")
    if state == "stale-spec":
        spec = project.paths.spec
        spec.write_text(spec.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        from datakit.project import Project

        project = Project(project.root)
    with pytest.raises(ReleaseError) as exc:
        package(project)
    assert "release refused" in exc.value.message and "--accept-failed-check" in (
        exc.value.hint or ""
    )
    assert not (project.paths.releases / "1.0").exists()


def test_accepted_failed_check_is_recorded(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=30, quality=False)
    result = package(project, accept_failed_check=True)
    meta = read_json(result.path / "metadata.json")
    assert meta["quality"]["state"] == "failed"
    assert meta["quality"]["accepted_failed_check"] is True
    assert "semantic" in meta["quality"]["reasons"][0]
    assert "--accept-failed-check" in (result.path / "데이터설명서.md").read_text(encoding="utf-8")
    assert "did not pass" in (result.path / "README.md").read_text(encoding="utf-8")


def test_invalid_metadata_stops_the_release(ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import datakit.package.run as run

    project = ready(n=30)
    real = run._facts

    def bad_facts(*a, **k):  # type: ignore[no-untyped-def]
        facts = real(*a, **k)
        facts["metadata"]["dataset"]["license"] = ""  # fault injection
        facts["metadata"]["leakage"]["total"] = -1
        return facts

    monkeypatch.setattr(run, "_facts", bad_facts)
    with pytest.raises(ReleaseError) as exc:
        package(project)
    assert "dataset/license" in exc.value.message and "leakage/total" in exc.value.message
    assert not (project.paths.releases / "1.0").exists()


def test_only_deidentified_content_is_released(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=20, quality=None)
    # The manifest holds the masked text; labels.jsonl still carries a raw phone number.
    lines = project.paths.labels.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[0])
    rec["text"] = "연락처 010-1234-5678 로 주세요"
    lines[0] = json.dumps(rec, ensure_ascii=False)
    project.paths.labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = pq.read_table(project.paths.manifest)
    texts = table.column("text").to_pylist()
    idx = table.column("id").to_pylist().index(rec["id"])
    texts[idx] = "연락처 ***-****-**** 로 주세요"
    import pyarrow as pa

    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts))
    pq.write_table(table, project.paths.manifest)
    write_quality(project)
    result = package(project, layouts=["aihub"])
    for p in result.path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".zip":
                data = b"".join(zipfile.ZipFile(p).read(n) for n in zipfile.ZipFile(p).namelist())
            assert b"010-1234-5678" not in data, p
    rows = pq.read_table(result.path / "data").to_pylist()
    assert any(r["text"] == "연락처 ***-****-**** 로 주세요" for r in rows)


def test_excluded_items_and_bad_labels(ready) -> None:  # type: ignore[no-untyped-def]
    extra = [
        {
            "id": "dup-1",
            "source_path": "raw/x",
            "sha256": "0" * 64,
            "size": 1,
            "media_type": "text/plain",
            "source": "쇼핑몰A",
            "collected_at": "2026-10-01T00:00:00+00:00",
            "status": "duplicate",
            "text": "x",
        },
    ]
    project = ready(n=30, extra_rows=extra)
    result = package(project)
    assert result.total == 30 and result.skipped["not_ok"] == 1
    # A label value of the wrong type names the file, the item and the field.
    lines = project.paths.labels.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[3])
    rec["label"] = 7
    lines[3] = json.dumps(rec, ensure_ascii=False)
    project.paths.labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_quality(project)
    with pytest.raises(InputError) as exc:
        package(project, version="2.0")
    assert exc.value.item == rec["id"] and exc.value.field == "label"
    assert exc.value.file == "annotations/labels.jsonl"


def test_image_release_embeds_and_references_media(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready("object_detection", n=30)
    embedded = package(project, layouts=["aihub"])
    row = (
        pq.read_table(embedded.path / "data/train-00000-of-00001.parquet")
        .slice(0, 1)
        .to_pylist()[0]
    )
    assert row["image"]["bytes"].startswith(b"\x89PNG") and row["image"]["path"].endswith(".png")
    assert row["objects"][0]["label"] in ("차량", "보행자", "신호등")
    ts = list(embedded.path.rglob("TS_*.zip"))
    assert ts and all(n.endswith(".png") for z in ts for n in zipfile.ZipFile(z).namelist())
    referenced = package(project, version="1.0-ref", media="reference")
    row = (
        pq.read_table(referenced.path / "data/train-00000-of-00001.parquet")
        .slice(0, 1)
        .to_pylist()[0]
    )
    assert (referenced.path / row["image"]).read_bytes().startswith(b"\x89PNG")
    assert read_json(referenced.path / "metadata.json")["release"]["media"] == "reference"


def test_unknown_release_date_falls_back_to_the_manifest(ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    project = ready(n=20, release_date=None)
    meta = read_json(package(project).path / "metadata.json")
    assert (meta["release"]["date"], meta["release"]["date_source"]) == (
        "2026-10-01",
        "manifest.collected_at",
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    meta = read_json(package(project, version="1.1").path / "metadata.json")
    assert (meta["release"]["date"], meta["release"]["date_source"]) == (
        "2026-01-01",
        "SOURCE_DATE_EPOCH",
    )


def test_many_shards_and_row_groups(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=200)
    result = package(project, rows_per_shard=30)
    meta = read_json(result.path / "metadata.json")
    train = meta["shards"]["train"]
    assert [s["path"] for s in train] == [f"data/train-{i:05d}-of-00006.parquet" for i in range(6)]
    assert sum(s["rows"] for s in train) == result.splits["train"]
    assert abs(result.splits["train"] - 160) <= 2  # 8:1:1 per class, up to one item per class
    md = pq.ParquetFile(result.path / train[0]["path"]).metadata
    assert md.num_rows == 30 and all(
        md.row_group(i).num_rows <= 30 for i in range(md.num_row_groups)
    )


@pytest.mark.parametrize("template", ["ner", "transcription", "image_classification"])
def test_every_template_releases_and_verifies(ready, template: str) -> None:  # type: ignore[no-untyped-def]
    from datakit.package.verify import verify_release

    project = ready(template, n=40)
    # The ner template groups by source, and the builder has two sources: two units of 20
    # items cannot meet 8:1:1, so the release records an accepted deviation.
    result = package(project, layouts=["aihub"], accept_split_deviation=template == "ner")
    shares = json.loads((result.path / "metadata.json").read_text(encoding="utf-8"))["splits"]
    assert shares["within_tolerance"] is (template != "ner")
    assert shares["accepted_deviation"] is (template == "ner")
    report = verify_release(result.path)
    assert report.ok, report.problems
    schema = pq.read_schema(next((result.path / "data").glob("train-*.parquet")))
    if template == "ner":
        assert str(schema.field("entities").type) == (
            "list<element: struct<start: int64, end: int64, label: string, text: string>>"
        )
        # group: source with two sources → two units; no source straddles splits
        assert report.leakage["total"] == 0
    if template == "transcription":
        assert str(schema.field("audio").type) == "struct<bytes: binary, path: string>"
        assert json.loads(schema.metadata[b"huggingface"])["info"]["features"]["audio"] == {
            "_type": "Audio"
        }
        assert schema.field("duration").type == "double"
    if template == "image_classification":
        assert schema.field("width").type == "int64"
        assert any(p.name.startswith("TL_") for p in result.path.rglob("*.zip"))
