"""NER spans checked against the text they claim, and repaired when the fix is certain.

A span's ``start``/``end`` index the item's text in Python code points. Label Studio's
frontend counts in the browser's string instead, and its tracker has several reports of
the two drifting apart: an emoji outside the Basic Multilingual Plane is two UTF-16 code
units, a CRLF may reach the browser as a bare LF, and combining characters (Hangul
written as NFD jamo, common in text that passed through macOS) change length under
normalisation. A drifted span's ``text`` no longer equals ``content[start:end]``, and the
check stage counts it as a 형식 error.

:func:`check_spans` repairs such a span when the fix is certain:

1. the offsets read in another counting of the same text (UTF-16 code units; LF for CRLF;
   NFC or NFD of the text; UTF-16 with LF) land exactly on the span's text, or
2. the span's text (as written, or NFC/NFD) occurs exactly once near the given place
   (within 16 characters, plus one per emoji, CR and character that NFC would compose in
   the text before).

Otherwise the span is kept as it came and *refused*: reported with its item and the
reason, for a person to fix in Label Studio. A repaired span's ``text`` is the repaired
slice of the content (it can differ from the claimed text in normalisation only).

What was repaired and refused is counted in the :class:`SpanTally` that
:func:`tally` opens (``pull`` and ``import`` open one; ``PullResult`` callers can too).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

# offsets within this many code points of the claimed place count as "near", plus one per
# character that can make two countings of the text differ (astral, CR, combining)
NEAR = 16


@dataclass(frozen=True)
class SpanRepair:
    item: str | None
    label: str
    text: str
    start: int
    end: int
    new_start: int
    new_end: int
    how: str  # utf16 | crlf | utf16+crlf | nfc | nfd | nearby | normalization


@dataclass(frozen=True)
class SpanRefusal:
    item: str | None
    label: str
    text: str
    start: int
    end: int
    reason: str


@dataclass
class SpanTally:
    """Spans checked against their text during one pull or import."""

    checked: int = 0
    repaired: list[SpanRepair] = field(default_factory=list)
    refused: list[SpanRefusal] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "repaired": len(self.repaired),
            "refused": len(self.refused),
            "repairs": [asdict(r) for r in self.repaired],
            "refusals": [asdict(r) for r in self.refused],
        }


_current: ContextVar[SpanTally | None] = ContextVar("datakit_span_tally", default=None)


@contextmanager
def tally() -> Iterator[SpanTally]:
    """Count the spans checked, repaired and refused inside the ``with`` block."""
    t = SpanTally()
    token = _current.set(t)
    try:
        yield t
    finally:
        _current.reset(token)


def check_spans(
    spans: list[dict[str, Any]], content: str, *, item: str | None = None
) -> list[dict[str, Any]]:
    """The spans with offsets repaired where certain (see module docstring); spans
    without ``text`` cannot be checked and are returned as they are."""
    t = _current.get()
    out = []
    for span in spans:
        text = span.get("text")
        if not isinstance(text, str) or not text:
            out.append(span)
            continue
        start, end = int(span["start"]), int(span["end"])
        if t is not None:
            t.checked += 1
        found = locate(content, start, end, text)
        if isinstance(found, str):
            if found and t is not None:
                label = str(span.get("label", ""))
                t.refused.append(SpanRefusal(item, label, text, start, end, found))
            out.append(span)
            continue
        s, e, how = found
        if t is not None:
            label = str(span.get("label", ""))
            t.repaired.append(SpanRepair(item, label, text, start, end, s, e, how))
        out.append({**span, "start": s, "end": e, "text": content[s:e]})
    return out


def locate(content: str, start: int, end: int, text: str) -> tuple[int, int, str] | str:
    """Where the span really is: ``(start, end, how)``; ``""`` when the offsets are right;
    else the reason it cannot be repaired."""
    if 0 <= start <= end <= len(content) and content[start:end] == text:
        return ""
    nfc = unicodedata.normalize("NFC", text)
    if 0 <= start <= end <= len(content) and _same(content[start:end], nfc):
        return start, end, "normalization"
    for how, to_content in _countings(content):
        s, e = to_content(start), to_content(end)
        if s is not None and e is not None and s <= e and _same(content[s:e], nfc):
            return s, e, how
    needles = {text, nfc, unicodedata.normalize("NFD", text)}
    hits = sorted({(i, i + len(n)) for n in needles for i in _find_all(content, n)})
    if not hits:
        return "the span's text does not occur in the item's text"
    slack = NEAR + _drift(content)
    near = [h for h in hits if abs(h[0] - start) <= slack]
    if len(near) == 1:
        return near[0][0], near[0][1], "nearby"
    if not near:
        return f"the span's text occurs only farther than {slack} characters from its offsets"
    return f"the span's text occurs {len(near)} times near its offsets"


def _same(a: str, nfc_b: str) -> bool:
    return a == nfc_b or unicodedata.normalize("NFC", a) == nfc_b


def _find_all(content: str, needle: str) -> Iterator[int]:
    i = content.find(needle)
    while i >= 0:
        yield i
        i = content.find(needle, i + 1)


def _drift(content: str) -> int:
    astral = sum(1 for ch in content if ord(ch) > 0xFFFF)
    # text that is not NFC (NFD Hangul) may have been counted in NFC; counting an NFC text
    # in NFD is not something a browser does, so it does not widen the window
    return astral + content.count("\r") + len(content) - len(unicodedata.normalize("NFC", content))


Mapping = Callable[[int], int | None]


def _countings(content: str) -> Iterator[tuple[str, Mapping]]:
    """Other ways of counting the same text, each as offset there → offset in ``content``
    (None when the offset falls inside a character of ``content``)."""
    has_astral = any(ord(ch) > 0xFFFF for ch in content)
    has_crlf = "\r\n" in content
    if has_astral:
        yield "utf16", _mapping(content, lambda i, ch: 2 if ord(ch) > 0xFFFF else 1)
    if has_crlf:
        yield "crlf", _mapping(content, _lf_width(content))
    if has_astral and has_crlf:
        lf = _lf_width(content)
        yield (
            "utf16+crlf",
            _mapping(content, lambda i, ch: lf(i, ch) * (2 if ord(ch) > 0xFFFF else 1)),
        )
    for form in ("NFC", "NFD"):
        if not unicodedata.is_normalized(form, content):
            yield form.lower(), _normalized_mapping(content, form)


def _lf_width(content: str) -> Callable[[int, str], int]:
    def width(i: int, ch: str) -> int:
        return 0 if ch == "\r" and content[i + 1 : i + 2] == "\n" else 1

    return width


def _mapping(content: str, width: Callable[[int, str], int]) -> Mapping:
    """Offsets in a counting where character ``i`` is ``width(i, ch)`` units wide."""
    at: dict[int, int] = {}
    pos = 0
    for i, ch in enumerate(content):
        at.setdefault(pos, i)
        pos += width(i, ch)
    at.setdefault(pos, len(content))
    return at.get


def _continues(ch: str) -> bool:
    """True for a character that belongs to the previous one under normalisation: a
    combining mark, or a Hangul medial vowel / final consonant jamo."""
    o = ord(ch)
    return bool(unicodedata.combining(ch)) or 0x1161 <= o <= 0x1175 or 0x11A8 <= o <= 0x11C2


def _normalized_mapping(content: str, form: str) -> Mapping:
    """Offsets in ``normalize(form, content)``, mapped back at cluster boundaries."""
    at: dict[int, int] = {}
    pos = 0
    i = 0
    n = len(content)
    while i < n:
        j = i + 1
        while j < n and _continues(content[j]):
            j += 1
        at.setdefault(pos, i)
        pos += len(unicodedata.normalize(form, content[i:j]))  # type: ignore[arg-type]
        i = j
    at.setdefault(pos, n)
    return at.get
