"""The CoNLL (IOB2) NER layout::

    conll/<split>.conll       "token TAG" per line, a blank line after each item
    conll/<split>.ids.txt     the item id of each sentence, in the same order
    conll/labels.txt          the tag set: O, then B-/I- of each class in the spec's order

Tokens are the text's white-space separated words, further cut at every span boundary, so a
span that covers part of a word (``서울`` in ``서울에서``) stays exact: ``서울 B-LOC`` then
``에서 O``. Tags are IOB2: every entity starts with ``B-``. Spans that overlap cannot be
written in IOB2 and stop the release with the item named.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path
from typing import Any

from datakit.errors import ReleaseError
from datakit.labels import content_column
from datakit.spec.model import ProjectSpec

from ._media import iter_rows

ROOT = "conll"
_WORD = re.compile(r"\S+")


def iob2_tokens(text: str, spans: list[dict[str, Any]], item: str) -> list[tuple[str, str]]:
    """(token, tag) pairs of one text and its spans (character offsets, end exclusive)."""
    spans = sorted(spans, key=lambda s: (s["start"], s["end"]))
    end = 0
    for s in spans:
        start, stop = int(s["start"]), int(s["end"])
        if not 0 <= start < stop <= len(text):
            raise ReleaseError(
                f"item {item}: span {start}–{stop} ({s.get('label')}) is outside the text "
                f"of {len(text)} characters",
                hint="run `datakit check` and fix the span",
            )
        if start < end:
            raise ReleaseError(
                f"item {item}: spans overlap at {start}–{stop} ({s.get('label')}); "
                "IOB2 cannot hold overlapping or nested entities",
                hint="resolve the overlap in Label Studio, or leave out --layout conll",
            )
        end = stop
    cuts = sorted({int(s["start"]) for s in spans} | {int(s["end"]) for s in spans})
    pieces: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        a, b = m.span()
        j = bisect_right(cuts, a)
        while j < len(cuts) and cuts[j] < b:
            pieces.append((a, cuts[j]))
            a = cuts[j]
            j += 1
        pieces.append((a, b))
    out: list[tuple[str, str]] = []
    i = 0
    for s in spans:
        start, stop, label = int(s["start"]), int(s["end"]), str(s["label"])
        while i < len(pieces) and pieces[i][1] <= start:
            out.append((text[pieces[i][0] : pieces[i][1]], "O"))
            i += 1
        first = True
        while i < len(pieces) and pieces[i][0] < stop:
            out.append((text[pieces[i][0] : pieces[i][1]], f"{'B' if first else 'I'}-{label}"))
            first = False
            i += 1
        if first:
            raise ReleaseError(
                f"item {item}: span {start}–{stop} ({label}) covers only white space",
                hint="run `datakit check` and fix the span",
            )
    out += [(text[a:b], "O") for a, b in pieces[i:]]
    return out


def write_conll(spec: ProjectSpec, out: Path, shards: dict[str, list[dict[str, Any]]]) -> list[str]:
    content, label = content_column(spec), spec.task.label_field
    root = out / ROOT
    root.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for split, files in shards.items():
        with (
            (root / f"{split}.conll").open("w", encoding="utf-8", newline="\n") as conll,
            (root / f"{split}.ids.txt").open("w", encoding="utf-8", newline="\n") as ids,
        ):
            for row in iter_rows(out, files, ["id", content, label], batch_size=4096):
                pairs = iob2_tokens(str(row[content] or ""), row[label] or [], str(row["id"]))
                if not pairs:
                    continue  # an empty text has no sentence
                conll.write("".join(f"{tok} {tag}\n" for tok, tag in pairs) + "\n")
                ids.write(f"{row['id']}\n")
        written += [f"{ROOT}/{split}.conll", f"{ROOT}/{split}.ids.txt"]
    tags = ["O"] + [f"{p}-{c}" for c in spec.task.class_names for p in ("B", "I")]
    (root / "labels.txt").write_text("".join(f"{t}\n" for t in tags), encoding="utf-8")
    return [*written, f"{ROOT}/labels.txt"]
