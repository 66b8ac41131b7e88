"""Technical fitness (기술 적합성) of one item against ``spec.data``.

Returns the first failed requirement as a reason string ``"<code>: <detail>"``; the code
(before the colon) is stable and what reports group by. ``None`` means fit.
"""

from __future__ import annotations

from datakit.collect.sniff import FORMAT_NAMES, Technical
from datakit.io import stored_encoding
from datakit.spec.model import Data

# Which media types belong to each data type of the spec.
_DATA_MEDIA: dict[str, tuple[str, ...]] = {
    "text": ("text/",),
    "tabular": ("text/",),
    "image": ("image/",),
    "audio": ("audio/",),
    "video": ("video/",),
}


def check_fitness(tech: Technical, data: Data, *, record: bool = False) -> str | None:
    """The reason ``tech`` fails the spec's technical requirements, else ``None``."""
    if tech.problem:
        return tech.problem
    media = tech.media_type
    if not media.startswith(_DATA_MEDIA[data.type]):
        return f"format.wrong_type: {media} is not {data.type}"
    if data.formats and not record:
        names = FORMAT_NAMES.get(media, ())
        if not set(names) & set(data.formats):
            return f"format.not_allowed: {media} (allowed: {', '.join(data.formats)})"
    if media.startswith("image/"):
        return _image(tech, data)
    if media.startswith("audio/"):
        return _audio(tech, data)
    if media.startswith("text/"):
        return _text(tech, data)
    return None


def _image(t: Technical, data: Data) -> str | None:
    r = data.image
    w, h = t.width or 0, t.height or 0
    if (r.min_width and w < r.min_width) or (r.min_height and h < r.min_height):
        return f"image.too_small: {w}x{h} < {r.min_width or 0}x{r.min_height or 0}"
    if (r.max_width and w > r.max_width) or (r.max_height and h > r.max_height):
        return f"image.too_large: {w}x{h} > {r.max_width or '∞'}x{r.max_height or '∞'}"
    if r.modes and t.mode not in r.modes:
        return f"image.mode: {t.mode} (allowed: {', '.join(r.modes)})"
    return None


def _audio(t: Technical, data: Data) -> str | None:
    r = data.audio
    if r.sample_rates and t.sample_rate not in r.sample_rates:
        allowed = ", ".join(str(s) for s in r.sample_rates)
        return f"audio.sample_rate: {t.sample_rate} Hz (allowed: {allowed})"
    if r.channels and t.channels not in r.channels:
        allowed = ", ".join(str(c) for c in r.channels)
        return f"audio.channels: {t.channels} (allowed: {allowed})"
    d = t.duration or 0.0
    if r.min_duration is not None and d < r.min_duration:
        return f"audio.too_short: {d:.2f}s < {r.min_duration}s"
    if r.max_duration is not None and d > r.max_duration:
        return f"audio.too_long: {d:.2f}s > {r.max_duration}s"
    return None


def _norm_enc(name: str | None) -> str:
    return stored_encoding(name)


def _text(t: Technical, data: Data) -> str | None:
    r = data.text
    if r.encoding and _norm_enc(t.encoding) != _norm_enc(r.encoding):
        return f"text.encoding: {t.encoding} (required: {r.encoding})"
    n = t.text_length or 0
    if n == 0 or not (t.text or "").strip():
        return "text.empty: no text"
    if r.min_length is not None and n < r.min_length:
        return f"text.too_short: {n} < {r.min_length} characters"
    if r.max_length is not None and n > r.max_length:
        return f"text.too_long: {n} > {r.max_length} characters"
    return None
