"""Projects for the validity tests: a manifest and label records written directly (the real
writers' shapes, see tests/check/conftest.py), with texts and labels chosen by the test."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.check.conftest import manifest_row, write_labels, write_manifest

# The shared corpus's `hate` classes mapped onto the text template's three classes.
HATE_TO_CLASS = {"none": "중립", "offensive": "부정", "hate": "긍정"}


def read_hate_speech(path: Path) -> list[tuple[str, str]]:
    """(comment, hate class) rows of a korean-hate-speech TSV."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(r["comments"], r["hate"]) for r in rows]


def text_project(
    make_project: Callable[..., Path],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    name: str | None = None,
    groups: Sequence[str | None] | None = None,
) -> Path:
    root = make_project("text_classification", name=name)
    rows = []
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        over: dict[str, Any] = {
            "text": text,
            "sha256": hashlib.sha256(f"{i}:{text}".encode()).hexdigest(),
            "size": len(text.encode()),
            "text_length": len(text),
            "intake_label": label,
        }
        if groups is not None:
            over["group"] = groups[i]
        rows.append(manifest_row(i, **over))
    write_manifest(root, rows)
    write_labels(
        root,
        [
            {
                "id": r["id"],
                "text": r["text"],
                "source": r["source"],
                "label": r["intake_label"],
                "difficulty": "쉬움",
            }
            for r in rows
        ],
    )
    return root


def flip_labels(
    labels: Sequence[str], classes: Sequence[str], rate: float, seed: int
) -> tuple[list[str], set[int]]:
    """A seeded ``rate`` of the labels changed to another class; returns (labels, flipped)."""
    rng = random.Random(seed)
    flipped = set(rng.sample(range(len(labels)), round(rate * len(labels))))
    out = list(labels)
    for i in flipped:
        out[i] = rng.choice([c for c in classes if c != labels[i]])
    return out, flipped


def shape_png(kind: str, i: int, size: int = 48) -> bytes:
    """A generated image: a filled circle, square or triangle at a seeded place, colour and
    size on a noisy background (the image-baseline fixture; no downloads)."""
    from PIL import Image, ImageDraw

    rng = random.Random(i)
    bg = tuple(rng.randrange(0, 90) for _ in range(3))
    img = Image.new("RGB", (size, size), bg)
    px = img.load()
    assert px is not None
    for _ in range(size * 4):
        x, y = rng.randrange(size), rng.randrange(size)
        px[x, y] = tuple(rng.randrange(0, 256) for _ in range(3))
    d = ImageDraw.Draw(img)
    r = rng.randrange(size // 5, size // 3)
    cx, cy = rng.randrange(r, size - r), rng.randrange(r, size - r)
    fill = tuple(rng.randrange(120, 256) for _ in range(3))
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_project(
    make_project: Callable[..., Path], n: int, *, name: str | None = None
) -> tuple[Path, list[str]]:
    """An image_classification project of ``n`` generated shapes, labelled with the
    template's first three classes (circle, square, triangle in that order)."""
    from datakit.project import Project

    root = make_project("image_classification", name=name)
    classes = list(Project(root).spec.task.class_names[:3])
    kinds = ("circle", "square", "triangle")
    rows, labels = [], []
    for i in range(n):
        data = shape_png(kinds[i % 3], i)
        stored = f"data/source/img{i:05d}.png"
        (root / stored).parent.mkdir(parents=True, exist_ok=True)
        (root / stored).write_bytes(data)
        rows.append(
            manifest_row(
                i,
                stored_path=stored,
                text=None,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                media_type="image/png",
                width=48,
                height=48,
                intake_label=classes[i % 3],
            )
        )
        labels.append(classes[i % 3])
    write_manifest(root, rows)
    spec = Project(root).spec
    records = []
    for r in rows:
        rec: dict[str, Any] = {"id": r["id"], spec.task.label_field: r["intake_label"]}
        for f in spec.fields:
            if f.name == "file_name":
                rec["file_name"] = Path(r["stored_path"]).name
        records.append(json.dumps(rec, ensure_ascii=False))
    write_labels(root, records)
    return root, labels


VOCAB = {
    "긍정": ("최고", "만족", "추천", "훌륭", "감동", "완벽", "재구매", "튼튼"),
    "부정": ("불량", "환불", "최악", "파손", "실망", "고장", "불친절", "냄새"),
    "중립": ("보통", "무난", "평범", "그럭저럭", "적당", "무게", "색상", "크기"),
}
SHARED = ("상품", "배송", "포장", "가격", "이번", "정말", "그냥", "오늘")


def synthetic_reviews(n: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """Separable three-class texts: each has four words of its class and two shared ones."""
    rng = random.Random(seed)
    classes = list(VOCAB)
    texts, labels = [], []
    for i in range(n):
        cls = classes[i % 3]
        words = [rng.choice(VOCAB[cls]) for _ in range(4)] + [rng.choice(SHARED) for _ in range(2)]
        rng.shuffle(words)
        texts.append(" ".join(words) + f" {i}")
        labels.append(cls)
    return texts, labels


def media_project(
    make_project: Callable[..., Path],
    template: str,
    labels: Sequence[Any],
    *,
    extra: Callable[[int], dict[str, Any]] | None = None,
) -> Path:
    """An object_detection or transcription project: manifest rows of media items (no file
    needs to exist: their predictions are scored, not their content) and label records."""
    from datakit.project import Project

    root = make_project(template)
    field = Project(root).spec.task.label_field
    rows = [
        manifest_row(
            i,
            stored_path=f"data/source/m{i:04d}.bin",
            text=None,
            sha256=hashlib.sha256(f"media{i}".encode()).hexdigest(),
            media_type="image/png" if template == "object_detection" else "audio/wav",
        )
        for i in range(len(labels))
    ]
    write_manifest(root, rows)
    write_labels(
        root,
        [
            {"id": r["id"], field: labels[i], **(extra(i) if extra else {})}
            for i, r in enumerate(rows)
        ],
    )
    return root
