"""Korean personal-information detector and masker (비식별화).

A clean function API, shared by collect (text content, file names, metadata) and the
package stage:

* :func:`find_pii` — ``find_pii(text, kinds) -> list[Match]``, non-overlapping, in text order;
* :func:`mask` — ``mask(text, matches, policy) -> str``;
* :func:`count_kinds` — ``{kind: n}`` for reports.

Detection rules (each one keeps look-alikes out):

``rrn`` 주민등록번호 ``YYMMDD-GNNNNNN``
    the date must exist for the century given by the gender digit G (1,2 → 1900s; 3,4 →
    2000s; 9,0 → 1800s). The check digit only holds for numbers issued before October
    2020, so it raises ``confidence`` to ``high`` and never rejects.
``foreigner_rn`` 외국인등록번호
    the same shape with G in 5–8 (5,6 → 1900s; 7,8 → 2000s).
``phone``
    mobile ``01[016789]`` with or without separators; landline ``02`` / ``0[3-6][1-5]`` and
    ``070``/``050x`` with separators (a bare digit run is too ambiguous to call a landline).
``email``
    ``local@domain.tld``.
``card``
    13–19 digits, in groups of 4 (or 4-6-5) or one run of 15–16; the Luhn sum must hold.
``account`` 계좌번호
    10–14 digits in 3–4 hyphenated groups, only within 20 characters after a banking word
    (계좌, 은행, 입금, 송금, a bank's name, account): account numbers have no checksum, so
    the context is what tells them from order or invoice numbers.
``passport`` 여권번호
    ``M12345678`` (one of M S R O D G then 8 digits) or the 2021 format ``M123A4567``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from datakit.spec.model import PII_KINDS, PiiKind, PiiPolicy

Confidence = Literal["high", "medium"]


@dataclass(frozen=True)
class Match:
    """One identifier found in a text: its kind and span (``text[start:end]``)."""

    kind: PiiKind
    start: int
    end: int
    confidence: Confidence = "medium"


# Earlier kinds win when two matches overlap (an RRN also looks like an account number).
_PRIORITY: dict[str, int] = {
    "rrn": 0,
    "foreigner_rn": 0,
    "card": 1,
    "phone": 2,
    "passport": 3,
    "account": 4,
    "email": 5,
}

_ND = r"(?<![0-9A-Za-z])"  # not glued to a preceding digit or letter
_NA = r"(?![0-9A-Za-z])"
_RRN = re.compile(_ND + r"(\d{2})(\d{2})(\d{2})\s?[-–]?\s?([0-9])(\d{6})" + _NA)
_MOBILE = re.compile(_ND + r"01[016789](?:[-. ]?\d{3,4}[-. ]?\d{4})" + _NA)
_LANDLINE = re.compile(
    _ND + r"(?:\(?(?:02|0[3-6][1-5]|070|050[2-8])\)?)(?:[-. )]\s?)\d{3,4}[-. ]\d{4}" + _NA
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
_CARD = re.compile(
    _ND + r"(?:\d{4}(?:[- ]\d{4}){2}[- ]\d{1,7}|\d{4}[- ]\d{6}[- ]\d{5}|\d{15,16})" + _NA
)
_ACCOUNT = re.compile(_ND + r"\d{2,6}(?:-\d{2,7}){2,3}" + _NA)
_ACCOUNT_CONTEXT = re.compile(
    r"(계좌|은행|입금|송금|이체|예금주|농협|국민|신한|우리|하나|기업|카카오뱅크|케이뱅크|토스뱅크|"
    r"새마을|우체국|수협|신협|SC제일|씨티|부산|대구|경남|광주|전북|제주|account|bank)",
    re.IGNORECASE,
)
_PASSPORT = re.compile(r"(?<![0-9A-Za-z])[MSRODG](?:\d{8}|\d{3}[A-Z]\d{4})(?![0-9A-Za-z])")
_PASSPORT_CONTEXT = re.compile(r"(여권|passport)", re.IGNORECASE)
_DIGITS = re.compile(r"\d")


def _valid_date(yy: int, mm: int, dd: int, century: int) -> bool:
    try:
        day = _dt.date(century + yy, mm, dd)
    except ValueError:
        return False
    return day <= _dt.date.today()


_RRN_CENTURY = {"1": 1900, "2": 1900, "3": 2000, "4": 2000, "9": 1800, "0": 1800}
_FRN_CENTURY = {"5": 1900, "6": 1900, "7": 2000, "8": 2000}
_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def _rrn_checksum(digits: str, *, foreigner: bool) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:12], _RRN_WEIGHTS, strict=True))
    check = (11 - total % 11) % 10
    if foreigner:
        check = (check + 2) % 10
    return check == int(digits[12])


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _find_rrn(text: str, want_rrn: bool, want_frn: bool, out: list[Match]) -> None:
    for m in _RRN.finditer(text):
        yy, mm, dd, g = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        if g in _RRN_CENTURY:
            kind: PiiKind = "rrn"
            century = _RRN_CENTURY[g]
            if not want_rrn:
                continue
        elif g in _FRN_CENTURY:
            kind = "foreigner_rn"
            century = _FRN_CENTURY[g]
            if not want_frn:
                continue
        else:  # pragma: no cover - every digit is in one of the two tables
            continue
        if not _valid_date(yy, mm, dd, century):
            continue
        digits = "".join(c for c in m.group(0) if c.isdigit())
        conf: Confidence = (
            "high" if _rrn_checksum(digits, foreigner=kind == "foreigner_rn") else "medium"
        )
        out.append(Match(kind, m.start(), m.end(), conf))


def _find_card(text: str, out: list[Match]) -> None:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            out.append(Match("card", m.start(), m.end(), "high"))


def _find_account(text: str, out: list[Match]) -> None:
    for m in _ACCOUNT.finditer(text):
        n = sum(c.isdigit() for c in m.group(0))
        if not 10 <= n <= 14:
            continue
        if _ACCOUNT_CONTEXT.search(text, max(0, m.start() - 20), m.start()):
            out.append(Match("account", m.start(), m.end(), "medium"))


def _find_passport(text: str, out: list[Match]) -> None:
    for m in _PASSPORT.finditer(text):
        near = _PASSPORT_CONTEXT.search(text, max(0, m.start() - 20), m.start())
        out.append(Match("passport", m.start(), m.end(), "high" if near else "medium"))


def find_pii(text: str, kinds: Iterable[str] = PII_KINDS) -> list[Match]:
    """Every identifier of the given kinds in ``text``: non-overlapping, in text order."""
    want = set(kinds)
    unknown = want - set(PII_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds: {', '.join(sorted(unknown))}")
    if not text:
        return []
    has_digit = _DIGITS.search(text) is not None
    found: list[Match] = []
    if has_digit:
        if "rrn" in want or "foreigner_rn" in want:
            _find_rrn(text, "rrn" in want, "foreigner_rn" in want, found)
        if "card" in want:
            _find_card(text, found)
        if "phone" in want:
            found.extend(Match("phone", m.start(), m.end(), "high") for m in _MOBILE.finditer(text))
            found.extend(
                Match("phone", m.start(), m.end(), "medium") for m in _LANDLINE.finditer(text)
            )
        if "account" in want:
            _find_account(text, found)
        if "passport" in want:
            _find_passport(text, found)
    if "email" in want and "@" in text:
        found.extend(Match("email", m.start(), m.end(), "high") for m in _EMAIL.finditer(text))
    return _resolve_overlaps(found)


def _resolve_overlaps(found: list[Match]) -> list[Match]:
    if len(found) < 2:
        return found
    ranked = sorted(found, key=lambda m: (_PRIORITY[m.kind], m.start, -(m.end - m.start)))
    kept: list[Match] = []
    for m in ranked:
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)


def mask(text: str, matches: Sequence[Match], policy: PiiPolicy | None = None) -> str:
    """``text`` with every match hidden by ``policy.mask_char``.

    ``keep_length=True`` (the default) replaces each letter and digit one for one and keeps
    separators, so ``010-1234-5678`` becomes ``***-****-****``; ``keep_length=False``
    replaces the whole match with six mask characters, hiding the length too.
    """
    if not matches:
        return text
    policy = policy or PiiPolicy()
    ch = policy.mask_char
    parts: list[str] = []
    pos = 0
    for m in sorted(matches, key=lambda m: m.start):
        if m.start < pos:
            continue
        parts.append(text[pos : m.start])
        span = text[m.start : m.end]
        if policy.keep_length:
            parts.append("".join(ch if c.isalnum() else c for c in span))
        else:
            parts.append(ch * 6)
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts)


def count_kinds(matches: Iterable[Match]) -> dict[str, int]:
    """``{kind: count}`` in the fixed kind order (for the manifest's ``pii`` column)."""
    c = Counter(m.kind for m in matches)
    return {k: c[k] for k in PII_KINDS if c[k]}
