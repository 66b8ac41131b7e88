"""Media type from content (never the extension) and technical attributes from actually
decoding the content: truncated images, unreadable audio, invalid UTF-8 and empty files
are found here and reported as a ``problem`` (a reason code plus detail)."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# media type → the format names (file extensions) it satisfies in spec.data.formats
FORMAT_NAMES: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/gif": ("gif",),
    "image/bmp": ("bmp",),
    "image/webp": ("webp",),
    "image/tiff": ("tif", "tiff"),
    "audio/wav": ("wav",),
    "audio/flac": ("flac",),
    "audio/ogg": ("ogg", "oga"),
    "audio/mpeg": ("mp3",),
    "video/mp4": ("mp4", "m4v", "mov"),
    "video/webm": ("webm", "mkv"),
    "text/plain": ("txt", "text", "csv", "tsv", "json", "jsonl", "ndjson", "md", "xml", "html"),
    "application/zip": ("zip",),
    "application/x-tar": ("tar",),
    "application/gzip": ("gz", "tgz"),
    "application/pdf": ("pdf",),
}
EMPTY = "application/x-empty"
BINARY = "application/octet-stream"
# Text encodings tried, in order, for content that is not UTF-8 and has no BOM.
_LEGACY_ENCODINGS = ("cp949",)
# Byte-order marks of the Unicode encodings that are transcoded to UTF-8 (Windows Notepad's
# "Unicode" is UTF-16 LE with a BOM). UTF-32 first: its LE mark starts with UTF-16 LE's.
UNICODE_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def unicode_bom(head: bytes) -> tuple[str, int] | None:
    """(encoding, BOM length) when ``head`` starts with a UTF-16/32 byte-order mark."""
    for bom, enc in UNICODE_BOMS:
        if head.startswith(bom):
            return enc, len(bom)
    return None


@dataclass
class Technical:
    """What decoding a piece of content found out."""

    media_type: str
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration: float | None = None
    text_length: int | None = None
    encoding: str | None = None
    text: str | None = None  # decoded text (text/plain only)
    phash: str | None = None  # 64-bit perceptual hash, hex (images only)
    problem: str | None = None  # "image.corrupt: …" when the content does not decode
    extra: dict[str, Any] = field(default_factory=dict)


def sniff_media_type(head: bytes) -> str:
    """The media type of content starting with ``head`` (first 512 bytes are plenty)."""
    if not head:
        return EMPTY
    if unicode_bom(head) is not None:  # before MP3: FF FE also reads as an MPEG frame sync
        return "text/plain"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"BM") and len(head) > 14:
        return "image/bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "application/x-tar"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if b"\x00" in head:
        return BINARY
    return "text/plain"


def decode_text(data: bytes) -> tuple[str | None, str | None, str | None]:
    """(text, encoding, problem). A UTF-16/32 BOM decides the encoding; else UTF-8 (BOM
    allowed), then legacy Korean encodings, only to *name* the encoding."""
    bom = unicode_bom(data[:4])
    if bom is not None:
        enc, skip = bom
        try:
            return data[skip:].decode(enc), enc, None
        except UnicodeDecodeError as exc:
            at = exc.start + skip
            return None, enc, f"text.invalid_encoding: not valid {enc.upper()} (at byte {at})"
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            return data[3:].decode("utf-8"), "utf-8-sig", None
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as exc:
        bad = exc.start
    for enc in _LEGACY_ENCODINGS:
        try:
            return data.decode(enc), enc, None
        except UnicodeDecodeError:
            continue
    return None, None, f"text.invalid_encoding: not valid UTF-8 (byte 0x{data[bad]:02x} at {bad})"


def inspect(data: bytes, *, want_phash: bool = True, path: Path | None = None) -> Technical:
    """Sniff ``data`` and decode it far enough to know it is whole and what it is.

    ``path``, when the same bytes are in a file, lets libsndfile read natively (much faster
    than through Python file-object callbacks)."""
    media = sniff_media_type(data[:512])
    tech = Technical(media_type=media)
    if media == EMPTY:
        tech.problem = "file.empty: zero bytes"
    elif media.startswith("image/"):
        _inspect_image(data, tech, want_phash)
    elif media.startswith("audio/"):
        _inspect_audio(data, tech, path)
    elif media == "text/plain":
        text, enc, problem = decode_text(data)
        tech.encoding = enc
        tech.problem = problem
        if text is not None:
            text = unicodedata.normalize("NFC", text)  # macOS files often hold NFD Hangul
            tech.text = text
            tech.text_length = len(text)
            if "\x00" in text:
                tech.problem = "text.binary: NUL characters in text"
    return tech


def _inspect_image(data: bytes, tech: Technical, want_phash: bool) -> None:
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data)) as img:
            tech.width, tech.height = img.size
            tech.mode = img.mode
            if img.format == "JPEG":
                # DCT scaling: the whole scan is still decoded (so truncation shows) at 1/8 cost
                img.draft("RGB", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
            img.load()
            if want_phash:
                tech.phash = _phash(img)
    except Exception as exc:  # PIL raises many types for broken files
        tech.problem = f"image.corrupt: {_short(exc)}"


def _phash(img: Any) -> str:
    import imagehash
    from PIL import Image

    small = img.convert("L").resize((32, 32), Image.Resampling.BILINEAR)
    return str(imagehash.phash(small))


def _inspect_audio(data: bytes, tech: Technical, path: Path | None) -> None:
    if tech.media_type == "audio/wav" and _inspect_pcm_wav(data, tech):
        return
    import soundfile as sf

    try:
        with sf.SoundFile(str(path) if path is not None else io.BytesIO(data)) as f:
            tech.sample_rate = int(f.samplerate)
            tech.channels = int(f.channels)
            frames = int(f.frames)
            got = 0
            block = max(1, min(frames, 1 << 18))
            while True:
                chunk = f.read(block, dtype="int16", always_2d=True)
                if not len(chunk):
                    break
                got += len(chunk)
            declared = _wav_declared_bytes(data) if tech.media_type == "audio/wav" else None
            if declared is not None and declared[0] > declared[1]:
                tech.problem = (
                    f"audio.truncated: the data chunk declares {declared[0]} bytes, "
                    f"{declared[1]} are present"
                )
            elif frames > 0 and got < frames:
                tech.problem = f"audio.truncated: {got} of {frames} frames decode"
            elif got == 0:
                tech.problem = "audio.empty: no audio frames"
            tech.duration = round(got / tech.sample_rate, 6) if tech.sample_rate else None
    except Exception as exc:  # libsndfile errors come as RuntimeError/LibsndfileError
        tech.problem = f"audio.corrupt: {_short(exc)}"


_PCM_FORMATS = (1, 3)  # WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT
_KSDATAFORMAT_PCM = bytes.fromhex("0100000000001000800000aa00389b71")
_KSDATAFORMAT_FLOAT = bytes.fromhex("0300000000001000800000aa00389b71")


def _inspect_pcm_wav(data: bytes, tech: Technical) -> bool:
    """Uncompressed PCM WAV, read from its chunks: every byte string is a valid sample, so
    decoding comes down to a well-formed header and a data chunk whose declared length is
    all there. Returns False (libsndfile decides) for anything else."""
    if data[:4] != b"RIFF" or len(data) < 12:
        return False
    pos, fmt, found = 12, None, None
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"fmt " and size >= 16:
            fmt = data[pos + 8 : pos + 8 + size]
        elif cid == b"data":
            found = (pos + 8, size)
            break
        pos += 8 + size + (size & 1)
    if fmt is None or found is None or len(fmt) < 16:
        return False
    tag = int.from_bytes(fmt[0:2], "little")
    if tag == 0xFFFE and len(fmt) >= 40:  # WAVE_FORMAT_EXTENSIBLE
        if fmt[24:40] not in (_KSDATAFORMAT_PCM, _KSDATAFORMAT_FLOAT):
            return False
    elif tag not in _PCM_FORMATS:
        return False
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    align = int.from_bytes(fmt[12:14], "little")
    if channels < 1 or rate < 1 or align < 1:
        tech.problem = f"audio.corrupt: bad format chunk ({channels} channels, {rate} Hz)"
        return True
    start, declared = found
    present = len(data) - start
    tech.sample_rate, tech.channels = rate, channels
    if declared in (0, 0xFFFFFFFF):  # streaming writers leave the size open
        declared = present
    frames = min(declared, present) // align
    tech.duration = round(frames / rate, 6)
    if declared > present:
        tech.problem = (
            f"audio.truncated: the data chunk declares {declared} bytes, {present} are present"
        )
    elif frames == 0:
        tech.problem = "audio.empty: no audio frames"
    return True


def _wav_declared_bytes(data: bytes) -> tuple[int, int] | None:
    """(declared, present) bytes of a WAV file's data chunk. libsndfile quietly shortens a
    truncated file to what is there, so the header is compared with the bytes present."""
    if data[:4] != b"RIFF":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"data":
            if size in (0, 0xFFFFFFFF):  # streaming writers leave the size open
                return None
            return size, len(data) - (pos + 8)
        pos += 8 + size + (size & 1)
    return None


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg[:160]
