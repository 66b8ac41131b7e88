"""Planted inputs for the collect tests: real images, audio and texts written to disk."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np

WORDS = [
    "배송",
    "빠르고",
    "포장",
    "꼼꼼",
    "재구매",
    "의사",
    "사이즈",
    "너무",
    "작고",
    "교환",
    "해주네요",
    "색상",
    "사진",
    "두께",
    "보통",
    "가격",
    "대비",
    "괜찮",
    "다시",
    "정말",
    "좋아요",
    "별로",
    "예요",
    "품질",
    "마감",
    "냄새",
    "디자인",
    "튼튼",
    "가볍고",
    "무겁고",
    "설명",
    "달라요",
    "친절",
    "응대",
    "느려요",
    "빨라요",
    "만족",
    "불만",
    "추천",
    "비추",
    "선물",
    "부모님",
    "아이",
    "강아지",
    "겨울",
    "여름",
    "따뜻",
    "시원",
    "소리",
    "화면",
    "배터리",
    "충전",
    "오래",
    "금방",
    "고장",
    "설치",
    "조립",
    "쉬워요",
    "어려워요",
]


def korean_text(rng: random.Random, n_words: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


def near_dup(text: str, rng: random.Random) -> str:
    """A planted near-duplicate: one word swapped for another and punctuation changed."""
    words = text.rstrip(".").split()
    i = rng.randrange(len(words))
    words[i] = rng.choice(WORDS)
    return " ".join(words) + "!!"


def image_bytes(
    seed: int, size: tuple[int, int] = (256, 256), fmt: str = "PNG", **kw: object
) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # blocky: a stable perceptual hash
    img = Image.fromarray(small, "RGB").resize(size, Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def write_image(path: Path, seed: int, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    path.write_bytes(image_bytes(seed, fmt=fmt, **kw))  # type: ignore[arg-type]
    return path


def wav_bytes(
    seconds: float = 1.0, sr: int = 16000, channels: int = 1, freq: float = 440.0
) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    tone = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    data = np.repeat(tone[:, None], channels, axis=1)
    buf = io.BytesIO()
    sf.write(buf, data, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def set_spec(root: Path, old: str, new: str) -> None:
    """Edit one line of a project's datakit.yaml (the tests' way to change the policy)."""
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    assert old in text, old
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")


def read_manifest(root: Path) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    return pq.read_table(root / "data" / "manifest.parquet").to_pylist()
