"""Inter-annotator agreement — what Label Studio Community does not compute.

Classification (``class``/``classes``/``choice`` fields): Cohen's κ per annotator pair,
Fleiss' κ (when every item has the same number of ratings) with Fleiss' per-category κ_j,
Krippendorff's α (nominal; ordinal for attributes marked ``ordinal``) via the
``krippendorff`` package, per-class one-against-the-rest α, and raw percent agreement.
Boxes: greedy one-to-one matching of same-label boxes at IoU ≥ the spec's threshold;
agreement = matched F1 = 2·matches / (boxes of A + boxes of B).
Spans (NER): exact (start, end, label) matches, same F1.
Transcription: character error rate between two transcripts = Levenshtein distance /
mean length of the two (symmetric); agreement = 1 − CER.

The headline figure rests on every cross-checked item (two or more annotators), with the
metric the data allows (:func:`choose_metric`) and a bootstrap interval over items
(:mod:`datakit.annotate.bootstrap`). Only annotators count: reviewers settle items, they
are not raters (:mod:`datakit.annotate.adjudication`). Every figure carries the number of
items it rests on; an annotator's latest annotation of an item is the one used.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datakit.annotate import bootstrap
from datakit.annotate.bootstrap import ItemFigure
from datakit.reports import METRIC_NAMES, AgreementReport
from datakit.spec.model import ProjectSpec

Fields = dict[str, Any]


@dataclass(frozen=True)
class Ann:
    """One usable (not cancelled) annotation of an item."""

    annotator: str
    annotation_id: int
    fields: Fields
    updated_at: str = ""


# -- textbook statistics ----------------------------------------------------------------


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's κ of two raters over the same items. None when undefined (p_e = 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if math.isclose(pe, 1.0):
        return None
    return (po - pe) / (1 - pe)


def fleiss_kappa(table: Sequence[Sequence[int]]) -> tuple[float | None, list[float | None]]:
    """Fleiss' κ of an items × categories count table (every row sums to the same n),
    and Fleiss' per-category κ_j. None where undefined."""
    if not table:
        return None, []
    n = sum(table[0])
    N = len(table)
    k = len(table[0])
    if n < 2 or any(sum(r) != n for r in table):
        raise ValueError("every item needs the same number (≥ 2) of ratings")
    p = [sum(r[j] for r in table) / (N * n) for j in range(k)]
    P = [(sum(x * x for x in r) - n) / (n * (n - 1)) for r in table]
    Pbar = sum(P) / N
    Pe = sum(pj * pj for pj in p)
    kappa = None if math.isclose(Pe, 1.0) else (Pbar - Pe) / (1 - Pe)
    per: list[float | None] = []
    for j in range(k):
        q = 1 - p[j]
        if p[j] == 0 or q == 0:
            per.append(None)
            continue
        dis = sum(r[j] * (n - r[j]) for r in table)
        per.append(1 - dis / (N * n * (n - 1) * p[j] * q))
    return kappa, per


def krippendorff_alpha(
    units: Sequence[Sequence[Hashable]], *, level: str = "nominal", order: Sequence[Hashable] = ()
) -> float | None:
    """Krippendorff's α over units (each the values its coders gave; missing values simply
    absent). ``order`` ranks the values for the ordinal level. None when undefined."""
    import krippendorff
    import numpy as np

    values: list[Hashable] = list(order) if order else []
    for u in units:
        for v in u:
            if v not in values:
                values.append(v)
    index = {v: i for i, v in enumerate(values)}
    pairable = [u for u in units if len(u) >= 2]
    if len({v for u in pairable for v in u}) < 2:
        return None
    width = max(len(u) for u in pairable)
    data = np.full((width, len(pairable)), np.nan)
    for j, u in enumerate(pairable):
        for i, v in enumerate(u):
            data[i, j] = index[v]
    return float(
        krippendorff.alpha(
            reliability_data=data,
            level_of_measurement="ordinal" if level == "ordinal" else "nominal",
            value_domain=list(range(len(values))),
        )
    )


def iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    ax2, ay2 = a["x"] + a["width"], a["y"] + a["height"]
    bx2, by2 = b["x"] + b["width"], b["y"] + b["height"]
    iw = max(0.0, min(ax2, bx2) - max(a["x"], b["x"]))
    ih = max(0.0, min(ay2, by2) - max(a["y"], b["y"]))
    inter = iw * ih
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], threshold: float
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of same-label boxes, highest IoU first."""
    cands = sorted(
        (
            (iou(x, y), i, j)
            for i, x in enumerate(a)
            for j, y in enumerate(b)
            if x["label"] == y["label"]
        ),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for v, i, j in cands:
        if v < threshold:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def match_spans(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """Exact span matches (start, end, label), one-to-one."""
    free: dict[tuple[int, int, str], list[int]] = defaultdict(list)
    for j, s in enumerate(b):
        free[(s["start"], s["end"], s["label"])].append(j)
    pairs = []
    for i, s in enumerate(a):
        js = free.get((s["start"], s["end"], s["label"]))
        if js:
            pairs.append((i, js.pop(0)))
    return pairs


def cer(a: str, b: str) -> float:
    """Symmetric character error rate: Levenshtein distance / mean length (0 for two empties)."""
    from rapidfuzz.distance import Levenshtein

    mean = (len(a) + len(b)) / 2
    return 0.0 if mean == 0 else Levenshtein.distance(a, b) / mean


# -- project-level figures --------------------------------------------------------------


@dataclass
class AgreementResult:
    report: AgreementReport
    per_item: dict[str, float | None] = field(default_factory=dict)


def value_key(v: Any) -> Hashable:
    """A field value as a hashable key (a list of classes becomes a tuple): equal keys, equal
    answers."""
    return tuple(v) if isinstance(v, list) else v


def _raters_text(raters: Sequence[Sequence[str]]) -> str:
    sizes = sorted(Counter(len(r) for r in raters).items())
    people = len({a for r in raters for a in r})
    parts = [f"{k} annotators on {n:,} items" for k, n in sizes]
    return f"{', '.join(parts)}; {people} annotators in all"


def choose_metric(requested: str, raters: Sequence[Sequence[str]]) -> tuple[str, str]:
    """The headline metric for classification and why, from who labelled each
    cross-checked item. Every item counts; the metric is the one the data allows:

    * the same two annotators on every item → Cohen's κ;
    * the same number of annotators on every item (not always the same people) → Fleiss' κ;
    * otherwise (annotators per item vary) → Krippendorff's α.

    ``requested`` (``annotation.agreement_metric``) is honoured when the data allows it;
    Cohen's κ or Fleiss' κ on data that does not fit them falls back to the rule above."""
    if not raters:
        metric = "cohen_kappa" if requested == "auto" else requested
        return metric, "no cross-checked items yet"
    sizes = {len(r) for r in raters}
    people = {a for r in raters for a in r}
    facts = _raters_text(raters)
    fits = {
        "cohen_kappa": len(people) == 2 and sizes == {2},
        "fleiss_kappa": len(sizes) == 1,
        "krippendorff_alpha": True,
    }
    if fits["cohen_kappa"]:
        auto = "cohen_kappa", "the same two annotators labelled every cross-checked item"
    elif fits["fleiss_kappa"]:
        auto = "fleiss_kappa", "every cross-checked item has the same number of annotators"
    else:
        auto = (
            "krippendorff_alpha",
            "annotators per item vary; Krippendorff's α uses every rating of every item",
        )
    if requested == "auto":
        return auto[0], f"auto: {auto[1]} ({facts})"
    if fits.get(requested):
        return requested, f"annotation.agreement_metric asks for it ({facts})"
    need = {
        "cohen_kappa": "the same two annotators on every item",
        "fleiss_kappa": "the same number of annotators on every item",
    }.get(requested, "other data")
    return auto[0], (
        f"annotation.agreement_metric asks for {METRIC_NAMES.get(requested, requested)}, which "
        f"needs {need}, but the data has {facts}; {METRIC_NAMES[auto[0]]} is used instead"
    )


def compute_agreement(
    spec: ProjectSpec,
    items: dict[str, list[Ann]],
    *,
    seed: int | None = None,
    resamples: int = bootstrap.RESAMPLES,
) -> AgreementResult:
    """Agreement figures of the annotators (agreement.json) and a per-item agreement.

    ``items`` holds the annotators' annotations only: reviewers' labels (review project,
    ground truth) settle items and are reported by :mod:`datakit.annotate.adjudication`.
    The headline rests on every cross-checked item, with a bootstrap interval over items
    seeded with ``seed`` (default: the spec's ``splits.seed``)."""
    seed = spec.splits.seed if seed is None else seed
    latest = {iid: latest_per_annotator(anns) for iid, anns in items.items() if anns}
    crossed = {iid: anns for iid, anns in latest.items() if len(anns) >= 2}
    requested = spec.annotation.agreement_metric
    label = spec.task.label_field
    fields: dict[str, Any] = {}
    per_item: dict[str, float | None]
    per_annotator: dict[str, Any]
    if spec.task.type in ("text_classification", "image_classification"):
        fields[label], units, cats = _categorical(
            crossed, label, spec.task.class_names, ordinal=False
        )
        raters = [[who for who, _ in vals] for vals in units.values()]
        metric, reason = choose_metric(requested, raters)
        figure = _categorical_figure(metric, units, cats)
        per_item = {iid: _majority_share(anns, label) for iid, anns in crossed.items()}
        per_annotator = _categorical_annotators(crossed, label)
    elif spec.task.type in ("object_detection", "ner"):
        fields[label], figure = _matched(spec, crossed, label)
        metric = fields[label]["metric"]
        raters = [[a.annotator for a in anns] for anns in crossed.values()]
        how = (
            f"same-label boxes matched one-to-one at IoU ≥ {spec.annotation.iou_threshold}"
            if spec.task.type == "object_detection"
            else "exact (start, end, label) span matches"
        )
        reason = f"{how}, F1 over every cross-checked item ({_raters_text(raters)})"
        per_item = {iid: _matched_item(spec, anns, label) for iid, anns in crossed.items()}
        per_annotator = _pairwise_annotators(crossed, lambda x, y: matched_pair(spec, x, y, label))
    else:
        fields[label], figure = _transcripts(crossed, label)
        metric = "one_minus_cer"
        raters = [[a.annotator for a in anns] for anns in crossed.values()]
        reason = (
            "transcripts: 1 − character error rate over every pair of transcripts of every "
            f"cross-checked item ({_raters_text(raters)})"
        )
        per_item = {iid: _transcript_item(anns, label) for iid, anns in crossed.items()}
        per_annotator = _pairwise_annotators(
            crossed,
            lambda x, y: (
                1 - min(1.0, cer(str(x.fields.get(label) or ""), str(y.fields.get(label) or "")))
            ),
        )
    for attr in spec.task.attributes:
        fields[attr.name] = _categorical(crossed, attr.name, attr.values, ordinal=attr.ordinal)[0]
    counts = Counter(a.annotator for anns in latest.values() for a in anns)
    for name, n in counts.items():
        per_annotator.setdefault(name, {"n_items_cross_checked": 0, "agreement": None})
        per_annotator[name]["n_annotated"] = n
    report = AgreementReport(
        task_type=spec.task.type,
        metric=metric,
        metric_requested=requested,
        metric_reason=reason,
        value=_round(figure.point()),
        interval=figure.interval(seed=seed, resamples=resamples),
        target=spec.targets.quality.agreement,
        n_items=len(latest),
        n_items_cross_checked=figure.n_items,
        raters_per_item={str(k): v for k, v in sorted(Counter(map(len, raters)).items())},
        annotators=sorted(counts),
        fields=fields,
        per_annotator=dict(sorted(per_annotator.items())),
        review_below=spec.annotation.review_below,
        iou_threshold=(
            spec.annotation.iou_threshold if spec.task.type == "object_detection" else None
        ),
    )
    return AgreementResult(report=report, per_item=per_item)


def latest_per_annotator(anns: list[Ann]) -> list[Ann]:
    """Each annotator's latest annotation of an item (by update time, then id), in id order:
    a resubmission replaces the earlier answer instead of counting as a second rater."""
    best: dict[str, Ann] = {}
    for a in anns:
        cur = best.get(a.annotator)
        if cur is None or (a.updated_at, a.annotation_id) > (cur.updated_at, cur.annotation_id):
            best[a.annotator] = a
    return sorted(best.values(), key=lambda a: a.annotation_id)


def _majority_share(anns: list[Ann], name: str) -> float | None:
    vals = [value_key(a.fields.get(name)) for a in anns if a.fields.get(name) is not None]
    if len(vals) < 2:
        return None
    return Counter(vals).most_common(1)[0][1] / len(vals)


Units = dict[str, list[tuple[str, Hashable]]]  # item → (annotator, value) of each rating


def _categorical(
    crossed: dict[str, list[Ann]], name: str, categories: Sequence[str], *, ordinal: bool
) -> tuple[dict[str, Any], Units, list[Hashable]]:
    """Every figure of one categorical field over the items with two or more ratings of it;
    also the units and categories the headline figure is computed from."""
    units: Units = {}
    for iid, anns in crossed.items():
        vals = [
            (a.annotator, value_key(a.fields[name])) for a in anns if a.fields.get(name) is not None
        ]
        if len(vals) >= 2:
            units[iid] = sorted(vals, key=lambda t: t[0])
    # Cohen's κ per pair of annotators, on the items both labelled
    pairs: dict[tuple[str, str], tuple[list[Hashable], list[Hashable]]] = defaultdict(
        lambda: ([], [])
    )
    for vals in units.values():
        for (ra, va), (rb, vb) in itertools.combinations(vals, 2):
            pairs[(ra, rb)][0].append(va)
            pairs[(ra, rb)][1].append(vb)
    pair_rows: list[dict[str, Any]] = []
    for (ra, rb), (xa, xb) in sorted(pairs.items()):
        pair_rows.append(
            {
                "annotators": [ra, rb],
                "value": _round(cohen_kappa(xa, xb)),
                "percent_agreement": _round(
                    sum(x == y for x, y in zip(xa, xb, strict=True)) / len(xa)
                ),
                "n_items": len(xa),
            }
        )
    total = sum(r["n_items"] for r in pair_rows if r["value"] is not None)
    cohen = (
        sum(r["value"] * r["n_items"] for r in pair_rows if r["value"] is not None) / total
        if total
        else None
    )
    cats: list[Hashable] = list(categories)
    for vals in units.values():
        for _, v in vals:
            if v not in cats:
                cats.append(v)
    table = _count_table(units, cats)
    # Fleiss' κ only where it is defined: the same number of ratings on every item
    sizes = {len(v) for v in units.values()}
    fleiss: dict[str, Any] = {"value": None, "n_items": 0, "raters_per_item": None}
    per_cat: list[float | None] = [None] * len(cats)
    if len(sizes) == 1:
        kappa, per_cat = fleiss_kappa(table.astype(int).tolist())
        fleiss = {"value": _round(kappa), "n_items": len(units), "raters_per_item": sizes.pop()}
    elif units:
        fleiss["note"] = "not computed: the number of ratings per item varies"
    alpha = krippendorff_alpha(
        [[v for _, v in vals] for vals in units.values()],
        level="ordinal" if ordinal else "nominal",
        order=list(categories) if ordinal else (),
    )
    comparisons = [
        (va == vb)
        for vals in units.values()
        for (_, va), (_, vb) in itertools.combinations(vals, 2)
    ]
    per_class = {}
    rated = table.sum(axis=1)
    for j, c in enumerate(cats):
        present = table[:, j] > 0
        # one class against the rest: Krippendorff's α of "c or not c"
        one_vs_rest = bootstrap.nominal_alpha(np.column_stack([table[:, j], rated - table[:, j]]))
        key = "+".join(c) if isinstance(c, tuple) else str(c)
        per_class[key] = {
            "fleiss_kappa": _round(per_cat[j]),
            "krippendorff_alpha": _round(one_vs_rest.point()),
            "n_items": int(present.sum()),
        }
    out = {
        "n_items": len(units),
        "cohen_kappa": {"value": _round(cohen), "n_items": total, "pairs": pair_rows},
        "fleiss_kappa": fleiss,
        "krippendorff_alpha": {
            "value": _round(alpha),
            "n_items": len(units),
            "level": "ordinal" if ordinal else "nominal",
        },
        "percent_agreement": {
            "value": _round(sum(comparisons) / len(comparisons)) if comparisons else None,
            "n_items": len(units),
        },
        "per_class": per_class,
    }
    return out, units, cats


def _count_table(units: Units, cats: Sequence[Hashable]) -> Any:
    """items × categories: how many ratings of each item chose each category."""
    index = {c: j for j, c in enumerate(cats)}
    table = np.zeros((len(units), len(cats)))
    for i, vals in enumerate(units.values()):
        for _, v in vals:
            table[i, index[v]] += 1
    return table


def _categorical_figure(metric: str, units: Units, cats: Sequence[Hashable]) -> ItemFigure:
    """The headline figure of the label field over every unit."""
    if metric == "cohen_kappa":  # the same two annotators on every unit, in name order
        index = {c: j for j, c in enumerate(cats)}
        first = np.array([index[vals[0][1]] for vals in units.values()], dtype=np.int64)
        second = np.array([index[vals[1][1]] for vals in units.values()], dtype=np.int64)
        return bootstrap.cohen_kappa(first, second, len(cats))
    table = _count_table(units, cats)
    if metric == "fleiss_kappa":
        return bootstrap.fleiss_kappa(table)
    return bootstrap.nominal_alpha(table)


def _categorical_annotators(crossed: dict[str, list[Ann]], name: str) -> dict[str, Any]:
    """Per annotator: share of pairwise comparisons with others that agree."""
    agree: Counter[str] = Counter()
    total: Counter[str] = Counter()
    items: Counter[str] = Counter()
    for anns in crossed.values():
        vals = [(a.annotator, value_key(a.fields.get(name))) for a in anns]
        for who, _ in vals:
            items[who] += 1
        for (ra, va), (rb, vb) in itertools.combinations(vals, 2):
            for who in (ra, rb):
                total[who] += 1
                agree[who] += va == vb
    return {
        who: {
            "n_items_cross_checked": items[who],
            "agreement": _round(agree[who] / total[who]) if total[who] else None,
        }
        for who in items
    }


def _pairwise_annotators(crossed: dict[str, list[Ann]], score: Any) -> dict[str, Any]:
    sums: defaultdict[str, float] = defaultdict(float)
    total: Counter[str] = Counter()
    items: Counter[str] = Counter()
    for anns in crossed.values():
        for a in anns:
            items[a.annotator] += 1
        for x, y in itertools.combinations(anns, 2):
            s = score(x, y)
            if s is None:
                continue
            for who in (x.annotator, y.annotator):
                sums[who] += s
                total[who] += 1
    return {
        who: {
            "n_items_cross_checked": items[who],
            "agreement": _round(sums[who] / total[who]) if total[who] else None,
        }
        for who in items
    }


def _pairs_of(
    spec: ProjectSpec, x: Ann, y: Ann, name: str
) -> tuple[list[Any], list[Any], list[tuple[int, int]]]:
    a, b = list(x.fields.get(name) or []), list(y.fields.get(name) or [])
    if spec.task.type == "object_detection":
        return a, b, match_boxes(a, b, spec.annotation.iou_threshold)
    return a, b, match_spans(a, b)


def matched_pair(spec: ProjectSpec, x: Ann, y: Ann, name: str) -> float:
    """Agreement of two annotations on a span/box field: twice the matched regions over all
    regions (1.0 when neither marked any)."""
    a, b, m = _pairs_of(spec, x, y, name)
    return 1.0 if not a and not b else 2 * len(m) / (len(a) + len(b))


def _matched_item(spec: ProjectSpec, anns: list[Ann], name: str) -> float | None:
    scores = [matched_pair(spec, x, y, name) for x, y in itertools.combinations(anns, 2)]
    return sum(scores) / len(scores) if scores else None


def _matched(
    spec: ProjectSpec, crossed: dict[str, list[Ann]], name: str
) -> tuple[dict[str, Any], ItemFigure]:
    matches = objects = 0
    per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # matches, objects, items
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    item_matched = np.zeros(len(crossed))  # 2 · matches per item, for the bootstrap
    item_drawn = np.zeros(len(crossed))
    for i_item, anns in enumerate(crossed.values()):
        seen: set[str] = set()
        for x, y in itertools.combinations(anns, 2):
            a, b, m = _pairs_of(spec, x, y, name)
            matches += len(m)
            objects += len(a) + len(b)
            item_matched[i_item] += 2 * len(m)
            item_drawn[i_item] += len(a) + len(b)
            key = tuple(sorted((x.annotator, y.annotator)))
            pairs[key][0] += len(m)  # type: ignore[index]
            pairs[key][1] += len(a) + len(b)  # type: ignore[index]
            pairs[key][2] += 1  # type: ignore[index]
            for i, _ in m:
                per_label[a[i]["label"]][0] += 1
            for o in (*a, *b):
                per_label[o["label"]][1] += 1
                seen.add(o["label"])
        for lab in seen:
            per_label[lab][2] += 1
    f1 = 2 * matches / objects if objects else (1.0 if crossed else None)
    out = {
        "metric": "box_f1" if spec.task.type == "object_detection" else "span_f1",
        "value": _round(f1),
        "n_items": len(crossed),
        "n_objects": objects,
        "pairs": [
            {
                "annotators": list(k),
                "value": _round(2 * v[0] / v[1] if v[1] else 1.0),
                "n_items": v[2],
            }
            for k, v in sorted(pairs.items())
        ],
        "per_class": {
            lab: {
                "f1": _round(2 * v[0] / v[1] if v[1] else None),
                "n_items": v[2],
                "n_objects": v[1],
            }
            for lab, v in sorted(per_label.items())
        },
    }
    return out, bootstrap.matched_f1(item_matched, item_drawn)


def _transcript_item(anns: list[Ann], name: str) -> float | None:
    scores = [
        1 - min(1.0, cer(str(x.fields.get(name) or ""), str(y.fields.get(name) or "")))
        for x, y in itertools.combinations(anns, 2)
    ]
    return sum(scores) / len(scores) if scores else None


def _transcripts(crossed: dict[str, list[Ann]], name: str) -> tuple[dict[str, Any], ItemFigure]:
    from rapidfuzz.distance import Levenshtein

    item_dist = np.zeros(len(crossed))
    item_length = np.zeros(len(crossed))
    for i, anns in enumerate(crossed.values()):
        for x, y in itertools.combinations(anns, 2):
            a, b = str(x.fields.get(name) or ""), str(y.fields.get(name) or "")
            item_dist[i] += Levenshtein.distance(a, b)
            item_length[i] += (len(a) + len(b)) / 2
    dist, length = float(item_dist.sum()), float(item_length.sum())
    c = dist / length if length else (0.0 if crossed else None)
    out = {
        "metric": "one_minus_cer",
        "value": None if c is None else _round(1 - min(1.0, c)),
        "cer": _round(c),
        "n_items": len(crossed),
    }
    return out, bootstrap.one_minus_cer(item_dist, item_length)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
