"""verify, trace, diff, status and the CLI around the release."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datakit.package.diff import diff_releases
from datakit.package.run import package
from datakit.package.trace import trace_item
from datakit.package.verify import verify_release
from tests.package.builders import write_quality


def test_verify_passes_a_fresh_release_and_catches_tampering(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    release = package(ready(n=60), layouts=["aihub"]).path
    report = verify_release(release)
    assert report.ok, report.problems
    assert report.rows == {"test": 6, "train": 48, "validation": 6}
    assert report.leakage["total"] == 0 and all(report.checks.values())

    # A changed shard: checksum and metadata problems, the shard is still read.
    bad = tmp_path / "bad"
    shutil.copytree(release, bad)
    shard = bad / "data/validation-00000-of-00001.parquet"
    t = pq.read_table(shard)
    pq.write_table(t.slice(0, 5), shard)
    r = verify_release(bad)
    assert not r.ok
    kinds = {p.check for p in r.problems}
    assert {"checksums", "metadata", "counts"} <= kinds

    # Leakage planted across splits is found even with checksums fixed up.
    leak = tmp_path / "leak"
    shutil.copytree(release, leak)
    val = leak / "data/validation-00000-of-00001.parquet"
    train = pq.read_table(leak / "data/train-00000-of-00001.parquet")
    vt = pq.read_table(val)
    sha = vt.column("source_sha256").to_pylist()
    sha[0] = train.column("source_sha256")[0].as_py()
    pq.write_table(
        vt.set_column(vt.schema.get_field_index("source_sha256"), "source_sha256", pa.array(sha)),
        val,
    )
    from datakit.package.run import write_sums

    write_sums(leak)
    r = verify_release(leak)
    assert any(p.check == "leakage" for p in r.problems)
    assert r.leakage["exact_hash"] == 1

    # An unlisted extra file.
    extra = tmp_path / "extra"
    shutil.copytree(release, extra)
    (extra / "notes.txt").write_text("x", encoding="utf-8")
    assert any("not listed" in p.message for p in verify_release(extra).problems)


def test_trace_shows_the_whole_path_of_one_item(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=30)
    ann = pa.Table.from_pylist(
        [
            {
                "item_id": "item-0000004",
                "task_id": 5,
                "annotation_id": 41,
                "annotator": "a@example.com",
                "created_at": "2026-10-01T10:00:00Z",
                "result": json.dumps({"label": "부정"}, ensure_ascii=False),
                "origin": "label_studio",
            },
            {
                "item_id": "item-0000004",
                "task_id": 5,
                "annotation_id": 42,
                "annotator": "b@example.com",
                "created_at": "2026-10-01T11:00:00Z",
                "result": json.dumps({"label": "부정"}, ensure_ascii=False),
                "origin": "label_studio",
            },
        ]
    )
    pq.write_table(ann, project.paths.annotations_table)
    (project.paths.reports / "errors.jsonl").write_text(
        json.dumps(
            {"item": "item-0000004", "kind": "형식", "field": "difficulty"}, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    release = package(project)
    t = trace_item(project, "item-0000004").to_dict()
    assert t["item"]["sha256"] and t["item"]["source"] == "쇼핑몰A" and t["item"]["status"] == "ok"
    assert [a["annotator"] for a in t["annotations"]] == ["a@example.com", "b@example.com"]
    assert t["annotations"][0]["result"] == {"label": "부정"}
    assert t["consensus"]["method"] == "majority" and t["consensus"]["n_annotators"] == 3
    assert t["label"]["label"] == "부정"
    assert t["checks"]["quality_state"] == "passed"
    assert t["checks"]["findings"][0]["finding"]["field"] == "difficulty"
    shard_split = None
    for shard in (release.path / "data").glob("*.parquet"):
        if "item-0000004" in pq.read_table(shard, columns=["id"]).column("id").to_pylist():
            shard_split = shard.name.split("-")[0]
    assert t["releases"] == [
        {"release": "1.0", "split": shard_split, "shard": t["releases"][0]["shard"]}
    ]


def test_diff_lists_added_removed_and_relabelled(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=40)
    old = package(project).path
    lines = project.paths.labels.read_text(encoding="utf-8").splitlines()
    recs = [json.loads(x) for x in lines]
    recs[2]["label"] = "중립" if recs[2]["label"] != "중립" else "긍정"
    relabelled = recs[2]["id"]
    removed = recs.pop(5)["id"]
    project.paths.labels.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n", encoding="utf-8"
    )
    # One new item: extend the manifest and the labels.
    m = pq.read_table(project.paths.manifest)
    row = m.slice(0, 1).to_pylist()[0]
    row.update(id="item-new", sha256="f" * 64, text="새 리뷰 입니다 정말 좋아요")
    pq.write_table(
        pa.concat_tables([m, pa.Table.from_pylist([row], schema=m.schema)]), project.paths.manifest
    )
    new_rec = {**recs[0], "id": "item-new", "text": row["text"]}
    with project.paths.labels.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(new_rec, ensure_ascii=False) + "\n")
    write_quality(project)
    new = package(project, version="1.1").path
    d = diff_releases(old, new)
    assert d.added == ["item-new"]
    assert d.removed == [removed]
    assert [r["id"] for r in d.relabelled] == [relabelled]
    assert d.relabelled[0]["new"]["label"] == recs[2]["label"]
    assert d.unchanged >= 30
    assert not diff_releases(old, old).changed


def test_cli_package_verify_trace_diff_status(ready, cli) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=30)
    p = str(project.root)
    r = cli("package", "-p", p, "--layout", "aihub", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["total"] == 30 and out["leakage"]["total"] == 0
    release = out["path"]
    r = cli("verify", release, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True
    r = cli("verify", "1.0", "-p", p)  # by version name, human output
    assert r.exit_code == 0 and "release verified" in r.output
    r = cli("trace", "item-0000001", "-p", p, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["releases"][0]["release"] == "1.0"
    r = cli("trace", "item-0000001", "-p", p)
    assert r.exit_code == 0 and "in release 1.0" in r.output
    r = cli("package", "-p", p, "--release-version", "1.1")
    assert r.exit_code == 0 and "release 1.1" in r.output
    r = cli("diff", "1.0", "1.1", "-p", p, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["counts"]["unchanged"] == 30
    r = cli("status", "-p", p, "--json")
    assert [x["version"] for x in json.loads(r.output)["package"]["releases"]] == ["1.0", "1.1"]
    # Errors: message + hint, no traceback, exit code 2; a failed verify exits 1.
    r = cli("package", "-p", p)
    assert r.exit_code == 2 and "already exists" in r.output and "Traceback" not in r.output
    r = cli("trace", "nope", "-p", p)
    assert r.exit_code == 2 and "item nope" in r.output
    (Path(release) / "README.md").write_text("changed", encoding="utf-8")
    r = cli("verify", release)
    assert r.exit_code == 1 and "sha256 differs" in r.output


def test_every_command_has_help_with_an_example(cli) -> None:  # type: ignore[no-untyped-def]
    for cmd in ("package", "verify", "trace", "diff"):
        r = cli(cmd, "--help")
        assert r.exit_code == 0 and f"Example: datakit {cmd}" in r.output


def test_gate_refusal_through_the_cli(ready, cli) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=20, quality=False)
    r = cli("package", "-p", str(project.root))
    assert (
        r.exit_code == 2
        and "the last quality check failed" in r.output
        and "--accept-failed-check" in r.output
    )
    r = cli("package", "-p", str(project.root), "--accept-failed-check", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["quality"]["accepted_failed_check"] is True
