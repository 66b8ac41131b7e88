"""Release documents, generated from measured figures (never left as blanks):

* ``데이터설명서.md`` — the AI Hub dataset description (guide §4): 기본 메타데이터, 개요, 통계,
  구성 (with the field dictionary), 품질, 변경이력.
* ``README.md`` — a Hugging Face dataset card with its YAML header (configs, dataset_info,
  licence, task categories).
* ``croissant.json`` — MLCommons Croissant 1.0 with the Responsible-AI (``rai:``) fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from datakit.io import dumps_json, write_text
from datakit.markdown import field_dictionary_table, md_table
from datakit.reports import AgreementFigures
from datakit.spec.model import ProjectSpec

TASK_KO = {
    "text_classification": "텍스트 분류",
    "ner": "개체명 인식 (구간 라벨링)",
    "image_classification": "이미지 분류",
    "object_detection": "객체 탐지 (바운딩 박스)",
    "transcription": "전사 (음성→텍스트)",
}
DATA_KO = {
    "text": "텍스트",
    "tabular": "정형(텍스트)",
    "image": "이미지",
    "audio": "음성",
    "video": "영상",
}
SPLIT_KO = {
    "train": "Training (학습)",
    "validation": "Validation (검증)",
    "test": "Test (시험)",
}
HF_TASK = {
    "text_classification": "text-classification",
    "ner": "token-classification",
    "image_classification": "image-classification",
    "object_detection": "object-detection",
    "transcription": "automatic-speech-recognition",
}
VERDICT_KO = {True: "통과", False: "미달", None: "미측정"}
QUALITY_KO = {
    "passed": "통과",
    "failed": "미달",
    "stale": "최신 아님 (검사 후 데이터·명세 변경)",
    "missing": "검사 없음",
}


def _pct(n: int, total: int) -> str:
    return f"{(100.0 * n / total):.1f}%" if total else "0.0%"


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return "" if x is None else str(x)


def write_documents(folder: Path, spec: ProjectSpec, facts: dict[str, Any]) -> None:
    meta = facts["metadata"]
    write_text(folder / "데이터설명서.md", description_ko(spec, meta, facts.get("history", [])))
    write_text(folder / "README.md", dataset_card(spec, meta))
    write_text(folder / "croissant.json", dumps_json(croissant(spec, meta)))


# -- 데이터설명서 -------------------------------------------------------------------------


def quality_warning(meta: dict[str, Any]) -> str | None:
    q = meta["quality"]
    if q["passed"]:
        return None
    reasons = "; ".join(q["reasons"]) or q["state"]
    return (
        f"품질검증 결과: {QUALITY_KO[q['state']]} — {reasons}. "
        "이 릴리스는 사용자가 `--accept-failed-check`로 명시적으로 승인하여 만들어졌습니다."
    )


def description_ko(spec: ProjectSpec, meta: dict[str, Any], history: list[dict[str, Any]]) -> str:
    ds, counts, rel = meta["dataset"], meta["counts"], meta["release"]
    total = counts["total"]
    org = ds["organizations"]
    prov = meta["provenance"]
    sources = ", ".join(f"{k} ({v:,}건)" for k, v in prov["sources"].items())
    formats = ", ".join(spec.data.formats) or spec.data.type
    categories = "; ".join(f"{c.name}: {c.definition}" for c in spec.task.classes)
    lines = [f"# {ds['name']['ko']} 데이터설명서", ""]
    lines += [f"버전 {rel['version']} · 공개일 {rel['date']} · 라이선스 {ds['license']}", ""]
    warn = quality_warning(meta)
    if warn:
        lines += [f"> **주의** {warn}", ""]
    lines += ["## 1. 기본 메타데이터", ""]
    rows: list[list[object]] = [
        ["분야", ds.get("domain") or ""],
        ["데이터 유형", DATA_KO[spec.data.type]],
        ["구축 데이터량", f"{total:,}건"],
        ["원천데이터 형식", formats],
        ["라벨링 형식", "JSON (항목별 라벨 파일), Parquet (학습용 샤드)"],
        ["라벨링 유형", TASK_KO[spec.task.type]],
        ["데이터 출처", sources],
        ["데이터 구축년도", _fmt(ds.get("year"))],
        ["구축기관(총괄)", org.get("builder") or ""],
        ["가공기관", org.get("labeler") or ""],
        ["검수기관", org.get("inspector") or ""],
        ["데이터 소개", ds.get("purpose") or ""],
        ["주요 키워드", ", ".join(ds.get("keywords") or [])],
        ["카테고리 정의서", categories],
    ]
    lines += [md_table(["항목", "내용"], rows), ""]
    lines += ["## 2. 데이터셋 개요", ""]
    lines += [
        md_table(
            ["항목", "내용"],
            [
                ["데이터셋명 (국문)", ds["name"]["ko"]],
                ["데이터셋명 (영문)", ds["name"]["en"]],
                ["구축목적", ds.get("purpose") or ""],
                ["활용서비스", ", ".join(ds.get("services") or [])],
                ["라벨 결정 방식", _methods(prov)],
            ],
        ),
        "",
    ]
    lines += ["## 3. 데이터셋 통계", "", "### 3.1 구축 규모 (분할별)", ""]
    lines += [
        md_table(
            ["분할", "건수", "비율", "계획 비율"],
            [
                [SPLIT_KO.get(s, s), f"{n:,}", _pct(n, total), _share(meta, s)]
                for s, n in counts["splits"].items()
            ]
            + [["합계", f"{total:,}", "100.0%", "100.0%"]],
        ),
        "",
        _tolerance_ko(meta),
        "",
    ]
    splits = list(counts["splits"])
    if counts["classes"]:
        lines += ["### 3.2 클래스 분포", ""]
        header = ["클래스", *[SPLIT_KO.get(s, s).split(" ")[0] for s in splits], "합계", "비율"]
        crow: list[list[object]] = []
        for cls, per in counts["classes"].items():
            n = sum(per.values())
            crow.append([cls, *[f"{per.get(s, 0):,}" for s in splits], f"{n:,}", _pct(n, total)])
        lines += [md_table(header, crow), ""]
        if spec.label_field.type in ("classes", "spans", "boxes"):
            lines += [
                "(한 항목에 여러 클래스가 있을 수 있어 비율의 합이 100%를 넘을 수 있습니다.)",
                "",
            ]
    for i, (attr, values) in enumerate(counts["attributes"].items(), 3):
        lines += [f"### 3.{i} 속성 분포: {attr}", ""]
        planned = spec.targets.composition.get(attr, {})
        arow: list[list[object]] = []
        for v, per in values.items():
            n = sum(per.values())
            arow.append(
                [v, f"{n:,}", _pct(n, total), f"{planned[v] * 100:g}%" if v in planned else ""]
            )
        lines += [md_table(["값", "건수", "비율", "계획 구성비"], arow), ""]
    lines += ["## 4. 데이터셋 구성", "", "### 4.1 파일 구성", ""]
    lines += [
        "- `data/<분할>-NNNNN-of-NNNNN.parquet`: 학습용 샤드 (Hugging Face 배치, zstd 압축)",
        "- `metadata.json`: 릴리스 메타데이터 (`release-metadata.schema.json`으로 검증됨)",
        "- `README.md`, `croissant.json`: 데이터 카드, MLCommons Croissant 메타데이터",
        "- `SHA256SUMS`: 모든 파일의 SHA-256",
    ]
    if "aihub" in rel["layouts"]:
        lines += [
            "- `aihub/…/Training|Validation/01.원천데이터/TS_|VS_<분류>.zip`: 원천데이터",
            "- `aihub/…/Training|Validation/02.라벨링데이터/TL_|VL_<분류>.zip`: 항목별 라벨 JSON "
            "(`<항목ID>.json`, 라벨 스키마로 검증됨). Test 분할은 공개 트리에 포함하지 않습니다.",
        ]
    lines += [_LAYOUT_FILES_KO[k] for k in ("coco", "yolo", "conll") if k in rel["layouts"]]
    lines += ["", "### 4.2 필드 정의 (라벨 데이터)", "", field_dictionary_table(spec), ""]
    lines += ["### 4.3 학습용 샤드 컬럼", ""]
    lines += [
        md_table(
            ["컬럼", "Arrow 타입", "역할"],
            [[c["name"], c["arrow_type"], c["role"]] for c in meta["columns"]],
        ),
        "",
    ]
    lines += ["## 5. 품질 및 분할", ""]
    q = meta["quality"]
    lines += [f"품질검증 상태: **{QUALITY_KO[q['state']]}**", ""]
    if q["indicators"]:
        lines += [
            md_table(
                ["지표", "결과값", "목표", "판정"],
                [
                    [k, _fmt(v["value"]), _fmt(v["target"]), VERDICT_KO[v["passed"]]]
                    for k, v in q["indicators"].items()
                ],
            ),
            "",
        ]
    if q["agreement"] is not None:
        lines += [f"작업자 간 일치도: {AgreementFigures.from_dict(q['agreement']).text_ko()}", ""]
    lines += _validity_ko(q.get("validity"))
    sp, lk = meta["splits"], meta["leakage"]
    ratios = ":".join(f"{v:g}" for v in sp["ratios"].values())
    lines += [
        f"분할 비율 {ratios} (seed {sp['seed']}), 층화 기준 `{sp['stratify'] or '없음'}`, "
        f"그룹 기준 `{sp['group'] or '없음'}`; 같은 원천 해시·그룹·유사중복 군집은 한 분할에만 "
        f"들어갑니다 (단위 {sp['units']:,}개).",
        "",
        f"분할 간 누수 점검: 동일 해시 {lk['exact_hash']}건, "
        f"유사중복 군집 {lk['near_duplicate']}건, "
        f"그룹 {lk['group']}건.",
        "",
        f"개인정보: 탐지 항목 {', '.join(meta['pii']['detect'])}, 조치 `{meta['pii']['action']}`; "
        "비식별화된 원천데이터만 공개합니다.",
        "",
    ]
    lines += ["## 6. 변경이력", ""]
    hist = [
        *history,
        {"version": rel["version"], "date": rel["date"], "change": _change(history, total)},
    ]
    lines += [
        md_table(
            ["버전", "일자", "변경내용"], [[h["version"], h["date"], h["change"]] for h in hist]
        ),
        "",
    ]
    return "\n".join(lines)


_LAYOUT_FILES_KO = {
    "coco": "- `coco/annotations/instances_<분할>.json`, `coco/images/<분할>/`: "
    "COCO 객체 탐지 형식 (bbox 픽셀 [x, y, w, h], 카테고리 ID는 클래스 순서대로 1부터)",
    "yolo": "- `yolo/data.yaml`, `yolo/images|labels/<분할>/`: Ultralytics YOLO 형식 "
    "(클래스 ID는 0부터, 좌표는 이미지 대비 0~1)",
    "conll": "- `conll/<분할>.conll`, `conll/<분할>.ids.txt`, `conll/labels.txt`: 개체명 CoNLL "
    "형식 (IOB2, `토큰 태그`)",
}


def _validity_ko(data: dict[str, Any] | None) -> list[str]:
    """모델·유효성 검증: model, features, metric, value, target, pass (and per class)."""
    if data is None:
        return []
    from datakit import validity_report as vr
    from datakit.validity_report import ValidityResult

    r = ValidityResult.from_dict(data)
    lines = [
        "### 모델·유효성 검증",
        "",
        md_table(["모델", "특징", "지표", "결과값", "목표", "판정"], vr.description_rows_ko(r)),
        "",
        vr.summary_ko(r) + (f"; 평가 분할 `{r.evaluated_on}`" if r.evaluated_on else "") + ".",
        "",
    ]
    if r.per_class:
        keys = [k for k in ("precision", "recall", "f1", "ap", "ap50") if k in r.per_class[0]]
        rows = [
            [c["label"], *(f"{c[k]:.3f}" for k in keys), c.get("support", "")] for c in r.per_class
        ]
        lines += [md_table(["클래스", *keys, "건수"], rows), ""]
    return lines


def _change(history: list[dict[str, Any]], total: int) -> str:
    if not history:
        return f"최초 공개 ({total:,}건)"
    prev = history[-1].get("total", 0)
    return f"{total:,}건 (이전 버전 대비 {total - prev:+,}건)"


def _methods(prov: dict[str, Any]) -> str:
    ann = prov.get("annotation") or {}
    methods = ", ".join(f"{k} {v:,}건" for k, v in (ann.get("methods") or {}).items())
    parts = [f"항목당 작업자 {ann.get('annotators_per_item')}명 (계획)"]
    if ann.get("mean_annotators") is not None:
        parts.append(f"평균 {ann['mean_annotators']:g}명")
    if ann.get("mean_agreement") is not None:
        parts.append(f"평균 일치도 {ann['mean_agreement']:g}")
    if methods:
        parts.append(methods)
    return "; ".join(parts)


# -- Hugging Face dataset card -----------------------------------------------------------


def _hf_dtype(arrow_type: str) -> Any:
    return {
        "string": "string",
        "int64": "int64",
        "int32": "int32",
        "double": "float64",
        "bool": "bool",
        "binary": "binary",
    }.get(arrow_type, arrow_type)


def _class_label_yaml(feature: dict[str, Any]) -> dict[str, Any]:
    # the card writes ClassLabel names as {'0': name, ...}, as datasets' own cards do
    return {"class_label": {"names": {str(i): n for i, n in enumerate(feature["names"])}}}


def _feature_yaml(name: str, feature: dict[str, Any]) -> dict[str, Any]:
    """One entry of the card's ``dataset_info.features`` (the YAML form ``datasets`` reads
    with ``Features._from_yaml_list``) from a feature's JSON form."""
    t = feature.get("_type")
    if t in ("Image", "Audio"):
        return {"name": name, "dtype": t.lower()}
    if t == "Value":
        return {"name": name, "dtype": feature["dtype"]}
    if t == "ClassLabel":
        return {"name": name, "dtype": _class_label_yaml(feature)}
    if t == "List":
        inner = feature["feature"]
        if inner.get("_type") == "Value":
            return {"name": name, "list": inner["dtype"]}
        if inner.get("_type") == "ClassLabel":
            return {"name": name, "list": _class_label_yaml(inner)}
        return {"name": name, "list": [_feature_yaml(k, v) for k, v in inner.items()]}
    return {"name": name, "struct": [_feature_yaml(k, v) for k, v in feature.items()]}


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "10M<n<100M"


def dataset_card(spec: ProjectSpec, meta: dict[str, Any]) -> str:
    from .shards import release_schema

    ds, counts = meta["dataset"], meta["counts"]
    media = meta["release"]["media"]
    schema = release_schema(spec, "reference" if media == "reference" else "embed")
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    loadable = [s for s, n in counts["splits"].items() if n]
    header = {
        "license": ds["license"].lower(),
        "language": ["ko"],
        "pretty_name": f"{ds['name']['en']} ({ds['name']['ko']})",
        "task_categories": [HF_TASK[spec.task.type]],
        "tags": ["datakit", "aihub", *list(ds.get("keywords") or [])],
        "size_categories": [_size_category(counts["total"])],
        "configs": [
            {
                "config_name": "default",
                # A split with no rows keeps its empty shard in data/ but is not declared:
                # `datasets` refuses a declared split that holds no data.
                "data_files": [{"split": s, "path": f"data/{s}-*"} for s in loadable],
                "default": True,
            }
        ],
        "dataset_info": {
            "features": [_feature_yaml(n, f) for n, f in features.items()],
            "splits": [
                {
                    "name": s,
                    "num_examples": n,
                    "num_bytes": sum(x["bytes"] for x in meta["shards"][s]),
                }
                for s, n in counts["splits"].items()
                if n
            ],
        },
    }
    front = yaml.safe_dump(header, allow_unicode=True, sort_keys=False, width=1000)
    splits_md = md_table(
        ["split", "rows", "share", "planned"],
        [
            [s, f"{n:,}", _pct(n, sum(counts["splits"].values())), _share(meta, s)]
            for s, n in counts["splits"].items()
        ],
    )
    fields_md = md_table(
        ["column", "type", "role", "description"],
        [
            [
                c["name"],
                c["arrow_type"],
                c["role"],
                next((f["description"] for f in meta["fields"] if f["name"] == c["name"]), ""),
            ]
            for c in meta["columns"]
        ],
    )
    q = meta["quality"]
    warn = quality_warning(meta)
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# {ds['name']['en']} ({ds['name']['ko']})",
        "",
        f"Version {meta['release']['version']}, released {meta['release']['date']}, "
        f"licence {ds['license']}. Built with datakit {meta['provenance']['datakit_version']} "
        "following the AI Hub data-building guide.",
        "",
    ]
    if warn:
        lines += [
            f"> **Warning: the last quality check did not pass ({q['state']}).** "
            f"{'; '.join(q['reasons'])}. The release was made with `--accept-failed-check`.",
            "",
        ]
    lines += [
        "## Purpose",
        "",
        ds.get("purpose") or "",
        "",
        "## Splits",
        "",
        splits_md,
        "",
        f"Split ratios {meta['splits']['ratios']} (seed {meta['splits']['seed']}), stratified by "
        f"`{meta['splits']['stratify']}`; items sharing a content hash, a group "
        f"(`{meta['splits']['group']}`) or a near-duplicate cluster stay in one split. "
        f"Leakage between splits: {meta['leakage']['total']}.",
        "",
        _tolerance_en(meta),
        "",
        "## Columns",
        "",
        fields_md,
        "",
        "## Quality",
        "",
        f"Last check: **{q['state']}**.",
        "",
    ]
    if q["indicators"]:
        lines += [
            md_table(
                ["indicator", "value", "target", "passed"],
                [
                    [k, _fmt(v["value"]), _fmt(v["target"]), v["passed"]]
                    for k, v in q["indicators"].items()
                ],
            ),
            "",
        ]
    lines += _validity_card(q.get("validity"), ds)
    lines += [
        "## Use",
        "",
        "```python",
        "from datasets import load_dataset",
        'ds = load_dataset("path/to/this/folder")  # class fields as ClassLabel, from this card',
        "```",
        "",
        "The Parquet shards keep class values as strings (for DuckDB, pandas, pyarrow).",
        "",
        "Personal information: only de-identified content is released "
        f"(detected kinds: {', '.join(meta['pii']['detect'])}; action: {meta['pii']['action']}).",
        "",
    ]
    return "\n".join(lines)


# -- Croissant ---------------------------------------------------------------------------

CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_CR_TYPES = {
    "string": "sc:Text",
    "int64": "sc:Integer",
    "int32": "sc:Integer",
    "double": "sc:Float",
    "bool": "sc:Boolean",
}
LICENSE_URL = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "MIT": "https://opensource.org/licenses/MIT",
}


def croissant(spec: ProjectSpec, meta: dict[str, Any]) -> dict[str, Any]:
    ds, prov, q = meta["dataset"], meta["provenance"], meta["quality"]
    rs = "default"
    fields: list[dict[str, Any]] = []
    for c in meta["columns"]:
        cr_type = _CR_TYPES.get(c["arrow_type"])
        if cr_type is None:
            continue  # nested columns (lists, spans, boxes, media) are described in README.md
        desc = next((f["description"] for f in meta["fields"] if f["name"] == c["name"]), c["role"])
        fields.append(
            {
                "@type": "cr:Field",
                "@id": f"{rs}/{c['name']}",
                "name": c["name"],
                "description": desc,
                "dataType": cr_type,
                "source": {"fileSet": {"@id": "parquet-shards"}, "extract": {"column": c["name"]}},
            }
        )
    fields.append(
        {
            "@type": "cr:Field",
            "@id": f"{rs}/split",
            "name": "split",
            "description": "train, validation or test, from the shard's file name",
            "dataType": "sc:Text",
            "source": {
                "fileSet": {"@id": "parquet-shards"},
                "extract": {"fileProperty": "filename"},
                "transform": {"regex": "^(train|validation|test)-\\d+-of-\\d+\\.parquet$"},
            },
        }
    )
    period = prov.get("collection_period") or {}
    ann = prov.get("annotation") or {}
    agreement = (
        f"inter-annotator agreement {AgreementFigures.from_dict(q['agreement']).text()}; "
        if q["agreement"] is not None
        else ""
    )
    indicators = "; ".join(
        f"{k} {v['value']} (target {v['target']})" for k, v in q["indicators"].items()
    )
    org = ds["organizations"]
    creators = [
        {"@type": "Organization", "name": n} for n in (org.get("builder"), org.get("labeler")) if n
    ]
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": ds["id"],
        "alternateName": [ds["name"]["ko"], ds["name"]["en"]],
        "description": ds.get("purpose") or ds["name"]["en"],
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "license": LICENSE_URL.get(ds["license"], ds["license"]),
        "url": f"urn:datakit:{ds['id']}:{meta['release']['version']}",
        "version": _semver(meta["release"]["version"]),
        "datePublished": meta["release"]["date"],
        "citeAs": f"{', '.join(c['name'] for c in creators) or ds['id']} "
        f"({meta['release']['date'][:4]}). "
        f"{ds['name']['ko']} ({ds['name']['en']}), version {meta['release']['version']}.",
        "inLanguage": "ko",
        "keywords": list(ds.get("keywords") or []),
        "creator": creators or [{"@type": "Organization", "name": ds["id"]}],
        "distribution": [
            {
                "@type": "cr:FileSet",
                "@id": "parquet-shards",
                "name": "parquet-shards",
                "description": "Parquet shards in the Hugging Face layout",
                "encodingFormat": "application/x-parquet",
                "includes": "data/*.parquet",
            }
        ],
        "recordSet": [{"@type": "cr:RecordSet", "@id": rs, "name": rs, "field": fields}],
        "rai:dataCollection": "Collected with datakit from the sources "
        + ", ".join(f"{k} ({v} items)" for k, v in prov["sources"].items())
        + "; exact duplicates removed, near-duplicates clustered, technical fitness checked.",
        "rai:dataCollectionType": "Manual Human Curation",
        "rai:dataCollectionTimeframe": [d for d in (period.get("from"), period.get("to")) if d],
        "rai:dataAnnotationProtocol": (spec.task.instructions or "")
        + f" Annotation in Label Studio following the generated annotation guide; "
        f"{spec.annotation.annotators_per_item} annotators per item planned (2인 이상 교차검증).",
        "rai:dataAnnotationPlatform": "Label Studio",
        "rai:annotationsPerItem": str(
            ann.get("mean_annotators") or spec.annotation.annotators_per_item
        ),
        "rai:dataAnnotationAnalysis": f"{agreement}label decided by "
        + (", ".join(f"{k} ({v})" for k, v in (ann.get("methods") or {}).items()) or "n/a")
        + f". Quality check: {q['state']}. {indicators}",
        "rai:personalSensitiveInformation": f"PII scan for {', '.join(meta['pii']['detect'])}; "
        f"action '{meta['pii']['action']}'; only de-identified content is released "
        f"({meta['pii'].get('items_with_findings', 0)} released items had findings).",
        "rai:dataPreprocessingProtocol": "Text NFC-normalised; duplicates and quarantined items "
        "left out; items split by a deterministic grouped, stratified assignment.",
        "rai:dataUseCases": ", ".join(ds.get("services") or []) or (ds.get("purpose") or ""),
        "rai:dataReleaseMaintenancePlan": "Versioned releases; each release is immutable and "
        "lists its changes in 데이터설명서.md.",
    }
    return doc


def _validity_card(data: dict[str, Any] | None, ds: dict[str, Any]) -> list[str]:
    """The baseline's results in Hugging Face ``model-index`` form (a YAML block)."""
    if data is None or data.get("value") is None:
        return []
    from datakit import validity_report as vr
    from datakit.validity_report import ValidityResult

    r = ValidityResult.from_dict(data)
    index = vr.model_index(r, dataset_id=ds["id"], dataset_name=ds["name"]["en"])
    block = yaml.safe_dump(index, allow_unicode=True, sort_keys=False, width=1000).rstrip()
    return [
        "### Baseline (유효성 검증)",
        "",
        f"{r.model}; features: {r.features or '-'}. {r.metric} = {r.value:.4f} on "
        f"`{r.evaluated_on}` (target {r.target}, {'passed' if r.passed else 'missed'}).",
        "",
        "```yaml",
        block,
        "```",
        "",
    ]


def _semver(v: str) -> str:
    parts = v.split(".")
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts[:3]) if all(p.isdigit() for p in parts[:3]) else v


def _share(meta: dict[str, Any], split: str) -> str:
    planned = meta["splits"]["planned"].get(split)
    return "" if planned is None else f"{planned:.1%}"


def _tolerance_ko(meta: dict[str, Any]) -> str:
    sp = meta["splits"]
    if sp["within_tolerance"]:
        text = f"모든 분할의 비율이 계획 비율의 허용 오차 ±{sp['tolerance']:.1%} 안에 있습니다."
    else:
        text = (
            f"**일부 분할의 비율이 허용 오차 ±{sp['tolerance']:.1%}를 벗어났으며, "
            "`--accept-split-deviation`으로 승인되어 공개되었습니다.**"
        )
    if sp["excluded"]:
        text += (
            f" 서로 다른 그룹에 걸친 유사중복 사본 {sp['excluded']:,}건은 분할 간 누수를 막기 위해 "
            "공개 데이터에서 제외했습니다 (`excluded.csv`)."
        )
    return text


def _tolerance_en(meta: dict[str, Any]) -> str:
    sp = meta["splits"]
    if sp["within_tolerance"]:
        text = f"Every split's share is within ±{sp['tolerance']:.1%} of its planned share."
    else:
        text = (
            f"**Some split shares are outside the tolerance of ±{sp['tolerance']:.1%}; the "
            "release was made with `--accept-split-deviation`.**"
        )
    if sp["excluded"]:
        text += (
            f" {sp['excluded']:,} near-duplicate copies that bridged groups were left out to "
            "keep the splits free of leakage (`excluded.csv`)."
        )
    return text
