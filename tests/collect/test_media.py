"""Technical fitness with real files: corrupt ones are found by decoding them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from datakit.collect import collect
from datakit.collect.sniff import inspect, sniff_media_type
from datakit.project import Project
from tests.collect.helpers import image_bytes, read_manifest, wav_bytes, write_image


def test_sniff_ignores_the_extension() -> None:
    assert sniff_media_type(image_bytes(1, fmt="JPEG")) == "image/jpeg"
    assert sniff_media_type(image_bytes(1)) == "image/png"
    assert sniff_media_type(wav_bytes(0.1)) == "audio/wav"
    assert sniff_media_type("안녕하세요".encode()) == "text/plain"
    assert sniff_media_type(b"") == "application/x-empty"


def test_inspect_reports_attributes() -> None:
    t = inspect(image_bytes(3, size=(300, 200)))
    assert (t.width, t.height, t.mode, t.problem) == (300, 200, "RGB", None)
    assert t.phash is not None and len(t.phash) == 16
    a = inspect(wav_bytes(1.5, sr=16000, channels=2))
    assert (a.sample_rate, a.channels, a.duration, a.problem) == (16000, 2, 1.5, None)
    s = inspect("가나다".encode("cp949"))
    assert s.encoding == "cp949"


def test_image_project_quarantines_with_reasons(make_project: Callable[..., Path]) -> None:
    root = make_project("image_classification")
    raw = root / "data" / "raw"
    write_image(raw / "정상" / "ok.png", 1)
    write_image(raw / "정상" / "ok2.jpg", 2)
    (raw / "갈색무늬병").mkdir(parents=True)
    jpeg = image_bytes(3, fmt="JPEG")
    (raw / "갈색무늬병" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    png = image_bytes(4)
    (raw / "갈색무늬병" / "truncated.png").write_bytes(png[: len(png) // 2])
    (raw / "갈색무늬병" / "empty.png").write_bytes(b"")
    write_image(raw / "갈색무늬병" / "small.png", 5, size=(100, 80))
    (raw / "갈색무늬병" / "jpeg_named.png").write_bytes(image_bytes(6, fmt="JPEG"))
    (raw / "갈색무늬병" / "note.png").write_bytes("사진 아님".encode())
    (raw / "점무늬낙엽병").mkdir()
    gif = raw / "점무늬낙엽병" / "anim.gif"
    from PIL import Image

    Image.new("RGB", (300, 300)).save(gif, format="GIF")
    gray = raw / "점무늬낙엽병" / "gray.png"
    Image.new("L", (300, 300), 128).save(gray)

    result = collect(Project(root), [raw], label_from_folder=True)
    rows = {Path(str(r["source_path"])).name: r for r in read_manifest(root)}
    reasons = {n: str(r["reason"]).split(":")[0] for n, r in rows.items() if r["status"] != "ok"}
    assert reasons == {
        "truncated.jpg": "image.corrupt",
        "truncated.png": "image.corrupt",
        "empty.png": "file.empty",
        "small.png": "image.too_small",
        "note.png": "format.wrong_type",
        "anim.gif": "format.not_allowed",
        "gray.png": "image.mode",
    }
    assert rows["jpeg_named.png"]["status"] == "ok"
    assert rows["jpeg_named.png"]["media_type"] == "image/jpeg"
    assert rows["ok.png"]["intake_label"] == "정상"
    assert (rows["ok.png"]["width"], rows["ok.png"]["height"]) == (256, 256)
    assert rows["small.png"]["reason"] == "image.too_small: 100x80 < 224x224"
    assert result.quarantined == 7 and result.ok == 3
    # 원천데이터 copies exist for ok items only, byte for byte
    for r in rows.values():
        if r["status"] == "ok":
            stored = root / str(r["stored_path"])
            assert stored.read_bytes() == (root / str(r["source_path"])).read_bytes()
        else:
            assert r["stored_path"] is None


def test_audio_project_checks_decode_and_requirements(make_project: Callable[..., Path]) -> None:
    root = make_project("transcription")
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "ok.wav").write_bytes(wav_bytes(1.0))
    full = wav_bytes(2.0)
    (raw / "truncated.wav").write_bytes(full[: len(full) // 2])
    (raw / "garbage.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage garbage")
    (raw / "hifi.wav").write_bytes(wav_bytes(1.0, sr=44100))
    (raw / "stereo.wav").write_bytes(wav_bytes(1.0, channels=2))
    (raw / "short.wav").write_bytes(wav_bytes(0.2))
    collect(Project(root), [raw])
    rows = {Path(str(r["source_path"])).name: r for r in read_manifest(root)}
    got = {n: str(r["reason"]).split(":")[0] for n, r in rows.items() if r["status"] != "ok"}
    assert got == {
        "truncated.wav": "audio.truncated",
        "garbage.wav": "audio.corrupt",
        "hifi.wav": "audio.sample_rate",
        "stereo.wav": "audio.channels",
        "short.wav": "audio.too_short",
    }
    ok = rows["ok.wav"]
    assert (ok["sample_rate"], ok["channels"], ok["duration"]) == (16000, 1, 1.0)


def test_image_near_duplicates_cluster(make_project: Callable[..., Path]) -> None:
    from PIL import Image

    root = make_project("image_classification")
    raw = root / "data" / "raw"
    write_image(raw / "a.png", 10)
    # the same picture, re-encoded as JPEG and resized: a near-duplicate, not an exact one
    img = Image.open(raw / "a.png").resize((320, 320))
    img.save(raw / "a_resized.jpg", quality=85)
    write_image(raw / "b.png", 11)
    write_image(raw / "c.png", 12)
    (raw / "c_copy.png").write_bytes((raw / "c.png").read_bytes())
    result = collect(Project(root), [raw])
    rows = {Path(str(r["source_path"])).name: r for r in read_manifest(root)}
    assert result.near_dup_clusters == 1
    assert rows["a.png"]["near_dup_cluster"] == rows["a_resized.jpg"]["near_dup_cluster"]
    assert rows["a.png"]["near_dup_cluster"] is not None
    assert rows["b.png"]["near_dup_cluster"] is None
    assert result.duplicates == 1
    dup = rows["c_copy.png"] if rows["c_copy.png"]["status"] == "duplicate" else rows["c.png"]
    other = rows["c.png"] if dup is rows["c_copy.png"] else rows["c_copy.png"]
    assert dup["duplicate_of"] == other["id"]
