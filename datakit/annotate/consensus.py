"""From several annotations of an item to one final label, and how it was obtained.

* One annotator: ``single``.
* Classification: majority vote on the label field (``unanimous`` when all agree,
  ``majority`` otherwise). A tie, or a majority share below ``review_below``, sends the item
  to review. Attributes take their own majority; ties there go to the earliest annotation.
* Spans (NER): a span is kept when more than half of the annotators marked it exactly
  (for two annotators: both). Items whose span F1 is below ``review_below`` go to review.
* Boxes and transcripts: the highest-agreement annotator's label is taken
  (``best_annotator``: the one with the best mean agreement with the others; ties go to
  the earliest annotation). Items below ``review_below`` go to review.
* An item with a settled label — a reviewer's label in the review project, or a
  ground-truth annotation (:mod:`datakit.annotate.adjudication`) — is ``adjudicated``;
  ``decided_by`` names who settled it, and that label is final. ``n_annotators`` and
  ``annotators`` count the annotators only, never the reviewer.

Items waiting for review have no final label yet (they are left out of labels.jsonl).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from datakit.annotate.agreement import (
    Ann,
    cer,
    latest_per_annotator,
    matched_pair,
    value_key,
)
from datakit.spec.model import ProjectSpec

Fields = dict[str, Any]


@dataclass
class Decision:
    item_id: str
    method: str
    n_annotators: int
    annotation_ids: list[int]
    annotators: list[str]
    agreement: float | None
    decided_by: str | None
    needs_review: bool
    fields: Fields | None  # the final label fields; None while waiting for review
    reason: str | None = None  # why the item needs review

    def row(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "method": self.method,
            "n_annotators": self.n_annotators,
            "annotation_ids": self.annotation_ids,
            "annotators": self.annotators,
            "agreement": None if self.agreement is None else round(self.agreement, 6),
            "decided_by": self.decided_by,
            "needs_review": self.needs_review,
        }


def decide(
    spec: ProjectSpec,
    item_id: str,
    anns: list[Ann],
    agreement: float | None,
    adjudication: Ann | None = None,
) -> Decision:
    latest = latest_per_annotator(anns)
    ids = [a.annotation_id for a in latest]
    who = [a.annotator for a in latest]
    if adjudication is not None:
        return Decision(
            item_id,
            "adjudicated",
            len(latest),
            ids,
            who,
            agreement,
            adjudication.annotator,
            False,
            dict(adjudication.fields),
        )
    if len(latest) == 1:
        return Decision(item_id, "single", 1, ids, who, None, None, False, dict(latest[0].fields))
    t = spec.task.type
    threshold = spec.annotation.review_below
    label = spec.task.label_field
    if t in ("text_classification", "image_classification"):
        fields, method, tie = _vote(spec, latest)
        low = agreement is not None and agreement < threshold
        if tie or low:
            reason = "tie" if tie else f"agreement {agreement:.2f} < {threshold}"
            return Decision(
                item_id, method, len(latest), ids, who, agreement, None, True, None, reason
            )
        return Decision(item_id, method, len(latest), ids, who, agreement, None, False, fields)
    if t == "ner":
        fields = _span_majority(spec, latest)
        unanimous = all(
            matched_pair(spec, x, y, label) == 1.0 for x, y in itertools.combinations(latest, 2)
        )
        method = "unanimous" if unanimous else "majority"
    else:
        fields = dict(_best_annotator(spec, latest).fields)
        method = "best_annotator"
    if agreement is not None and agreement < threshold:
        reason = f"agreement {agreement:.2f} < {threshold}"
        return Decision(item_id, method, len(latest), ids, who, agreement, None, True, None, reason)
    return Decision(item_id, method, len(latest), ids, who, agreement, None, False, fields)


def proposal(spec: ProjectSpec, anns: list[Ann]) -> tuple[Fields, bool]:
    """The label the annotators' own consensus proposes for an item, before any review,
    and whether they reached one (a classification tie proposes nothing)."""
    latest = latest_per_annotator(anns)
    if len(latest) == 1:
        return dict(latest[0].fields), True
    t = spec.task.type
    if t in ("text_classification", "image_classification"):
        fields, _, tie = _vote(spec, latest)
        return fields, not tie
    if t == "ner":
        return _span_majority(spec, latest), True
    return dict(_best_annotator(spec, latest).fields), True


def _vote(
    spec: ProjectSpec, anns: list[Ann], *, label_too: bool = True
) -> tuple[Fields, str, bool]:
    label = spec.task.label_field
    out: Fields = {}
    votes = Counter(
        value_key(a.fields.get(label))
        for a in anns
        if label_too and a.fields.get(label) is not None
    )
    tie = False
    method = "majority"
    if votes:
        ranked = votes.most_common()
        tie = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
        top = ranked[0][0]
        out[label] = list(top) if isinstance(top, tuple) else top
        if len(ranked) == 1 and ranked[0][1] == len(anns):
            method = "unanimous"
    for attr in spec.task.attributes:
        vals = [a.fields[attr.name] for a in anns if a.fields.get(attr.name) is not None]
        if vals:
            counts = Counter(vals)
            best = max(counts.values())
            out[attr.name] = next(v for v in vals if counts[v] == best)
    return out, method, tie


def _span_majority(spec: ProjectSpec, anns: list[Ann]) -> Fields:
    label = spec.task.label_field
    counts: Counter[tuple[int, int, str]] = Counter()
    text: dict[tuple[int, int, str], str] = {}
    for a in anns:
        for s in {(s["start"], s["end"], s["label"]) for s in a.fields.get(label) or []}:
            counts[s] += 1
        for s in a.fields.get(label) or []:
            if "text" in s:
                text[(s["start"], s["end"], s["label"])] = s["text"]
    keep = sorted(k for k, n in counts.items() if n * 2 > len(anns))
    spans = []
    for k in keep:
        span: dict[str, Any] = {"start": k[0], "end": k[1], "label": k[2]}
        if k in text:
            span["text"] = text[k]
        spans.append(span)
    out: Fields = {label: spans}
    out.update(_vote(spec, anns, label_too=False)[0])
    return out


def _best_annotator(spec: ProjectSpec, anns: list[Ann]) -> Ann:
    label = spec.task.label_field

    def score(x: Ann, y: Ann) -> float:
        if spec.task.type == "transcription":
            return 1 - min(1.0, cer(str(x.fields.get(label) or ""), str(y.fields.get(label) or "")))
        return matched_pair(spec, x, y, label)

    means = []
    for i, a in enumerate(anns):
        others = [score(a, b) for j, b in enumerate(anns) if j != i]
        means.append((sum(others) / len(others), -i))
    best = max(range(len(anns)), key=lambda i: means[i])
    return anns[best]
