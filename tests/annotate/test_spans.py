"""NER spans are checked against the text they claim; drifted offsets are repaired when the
span's text occurs exactly once near the given place, and refused otherwise (issue 13,
item 15). Offsets are made the way Label Studio's frontend makes them: UTF-16 code units
(emoji are surrogate pairs), text whose CRLF reached the browser as LF, and NFC counting
of NFD Hangul."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from datakit.annotate.normalize import normalize_result, to_result
from datakit.annotate.spans import check_spans, locate, tally

EMOJI = "배송 최고예요 😍😍👍 포장도 꼼꼼하고 😂 서울에서 하루 만에 왔어요 🎉"
CRLF = "첫째 줄: 삼성전자 제품\r\n둘째 줄\r\n셋째 줄: 서울 강남구에서 샀어요"
NFD = unicodedata.normalize("NFD", "홍길동 님이 서울에서 보낸 리뷰입니다. 서울 말고 부산")


def utf16(text: str, i: int) -> int:
    """Where Label Studio's frontend puts code point ``i`` (JavaScript string index)."""
    return len(text[:i].encode("utf-16-le")) // 2


def js_span(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    return utf16(text, i), utf16(text, i + len(needle))


def test_emoji_utf16_offsets_are_repaired() -> None:
    s, e = js_span(EMOJI, "서울")
    assert EMOJI[s:e] != "서울"  # the drift: five surrogate pairs before the span
    i = EMOJI.index("서울")
    assert locate(EMOJI, s, e, "서울") == (i, i + 2, "utf16")


def test_crlf_offsets_counted_on_lf_text_are_repaired() -> None:
    lf = CRLF.replace("\r\n", "\n")
    s = lf.index("서울")
    assert CRLF[s : s + 2] != "서울"
    i = CRLF.index("서울")
    assert locate(CRLF, s, s + 2, "서울") == (i, i + 2, "crlf")


def test_nfd_hangul_with_nfc_offsets_and_text_is_repaired() -> None:
    nfc = unicodedata.normalize("NFC", NFD)
    s = nfc.index("서울")
    jamo = unicodedata.normalize("NFD", "서울")
    assert len(jamo) == 5  # ㅅㅓ ㅇㅜㄹ
    i = NFD.index(jamo)
    assert locate(NFD, s, s + 2, "서울") == (i, i + 5, "nfc")


def test_correct_offsets_are_left_alone() -> None:
    i = EMOJI.index("서울")
    assert locate(EMOJI, i, i + 2, "서울") == ""


def test_text_occurring_exactly_once_nearby_is_repaired() -> None:
    text = "가격 &amp; 품질 모두 만족, 삼성전자 최고"
    i = text.index("삼성전자")
    assert locate(text, i + 4, i + 8, "삼성전자") == (i, i + 4, "nearby")  # escaped &amp;


def test_ambiguous_or_absent_text_is_refused() -> None:
    text = "좋아요 좋아요 좋아요 정말 좋아요"
    assert "occurs 4 times near" in str(locate(text, 1, 4, "좋아요"))
    assert "does not occur" in str(locate(text, 0, 3, "싫어요"))
    far = "서울 " + "가" * 500 + " 끝"
    assert "farther than" in str(locate(far, 400, 402, "서울"))


def test_check_spans_counts_repairs_and_refusals() -> None:
    s, e = js_span(EMOJI, "서울")
    spans = [
        {"start": s, "end": e, "label": "지명", "text": "서울"},
        {"start": 0, "end": 2, "label": "지명", "text": "부산"},  # not in the text: refused
        {"start": 0, "end": 2, "label": "지명"},  # no text: cannot be checked
    ]
    with tally() as t:
        out = check_spans(spans, EMOJI, item="r1")
    i = EMOJI.index("서울")
    assert out[0] == {"start": i, "end": i + 2, "label": "지명", "text": "서울"}
    assert out[1] == spans[1] and out[2] == spans[2]
    assert t.checked == 2 and len(t.repaired) == 1 and len(t.refused) == 1
    assert t.repaired[0].how == "utf16" and t.refused[0].item == "r1"
    assert t.to_dict()["repaired"] == 1


def _ner_result(project: Any, text: str, entities: list[tuple[str, str, int]]) -> list[Any]:
    spans = []
    for needle, label, nth in entities:
        s, e = js_span(text, needle, nth)
        spans.append({"start": s, "end": e, "label": label, "text": needle})
    return to_result(project.spec, {"entities": spans})


def test_normalize_repairs_spans_given_the_text(planned_project: Any) -> None:
    project = planned_project("ner", [{"id": "n1", "text": EMOJI}])
    result = _ner_result(project, EMOJI, [("서울", "지명", 0)])
    fields = normalize_result(project.spec, result, item="n1", content=EMOJI)
    span = fields["entities"][0]
    assert EMOJI[span["start"] : span["end"]] == "서울"


def test_import_repairs_emoji_crlf_and_nfd_spans_and_reports_them(
    planned_project: Any, tmp_path: Path
) -> None:
    from datakit.annotate.importing import import_export

    items = [{"id": "e", "text": EMOJI}, {"id": "c", "text": CRLF}, {"id": "d", "text": NFD}]
    project = planned_project("ner", items)
    lf = CRLF.replace("\r\n", "\n")
    nfc = unicodedata.normalize("NFC", NFD)
    s_lf = lf.index("서울")
    s_nfc = nfc.index("부산")
    results = {
        "e": _ner_result(project, EMOJI, [("서울", "지명", 0), ("포장", "기관", 0)]),
        "c": to_result(
            project.spec,
            {"entities": [{"start": s_lf, "end": s_lf + 2, "label": "지명", "text": "서울"}]},
        ),
        "d": to_result(
            project.spec,
            {
                "entities": [
                    {"start": s_nfc, "end": s_nfc + 2, "label": "지명", "text": "부산"},
                    {"start": 0, "end": 2, "label": "인명", "text": "대구"},
                ]
            },
        ),
    }
    tasks = [
        {
            "id": n,
            "data": {"item_id": iid, "text": {i["id"]: i["text"] for i in items}[iid]},
            "annotations": [{"id": n, "completed_by": 1, "result": res, "was_cancelled": False}],
        }
        for n, (iid, res) in enumerate(results.items(), 1)
    ]
    export = tmp_path / "ner.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    built = import_export(project, export)
    assert built.spans.checked == 5
    assert len(built.spans.repaired) == 4 and len(built.spans.refused) == 1
    assert {r.how for r in built.spans.repaired} == {"utf16", "crlf", "nfc"}
    assert built.spans.refused[0].text == "대구" and built.spans.refused[0].item == "d"
    records = {
        json.loads(x)["id"]: json.loads(x)
        for x in project.paths.labels.read_text(encoding="utf-8").splitlines()
    }
    for rec in records.values():
        for span in rec["entities"]:
            if span["text"] != "대구":
                assert rec["text"][span["start"] : span["end"]] == span["text"]
    d = records["d"]["entities"]
    assert (
        unicodedata.normalize("NFC", next(s["text"] for s in d if s["label"] == "지명")) == "부산"
    )


@pytest.mark.labelstudio
def test_pull_repairs_emoji_offsets_made_in_label_studio(
    planned_project: Any, ls_conn: Any
) -> None:
    """Annotations with the frontend's UTF-16 offsets stored in a real server, then pulled."""
    from datakit.annotate.client import LabelStudioClient
    from datakit.annotate.pull import pull
    from datakit.annotate.push import push

    project = planned_project("ner", [{"id": "p1", "text": EMOJI}, {"id": "p2", "text": CRLF}])
    res = push(project, conn=ls_conn)
    with LabelStudioClient(ls_conn) as client:
        by_item = {t["data"]["item_id"]: int(t["id"]) for t in client.iter_tasks(res.project_id)}
        for iid, text, needle in (("p1", EMOJI, "서울"), ("p2", CRLF, "서울")):
            s, e = js_span(text, needle)
            if iid == "p2":  # the browser saw LF
                s = text.replace("\r\n", "\n").index(needle)
                e = s + len(needle)
            spans = [{"start": s, "end": e, "label": "지명", "text": needle}]
            client.post(
                f"/api/tasks/{by_item[iid]}/annotations",
                json={"result": to_result(project.spec, {"entities": spans})},
            )
    with tally() as t:
        pulled = pull(project, conn=ls_conn)
    assert pulled.labelled == 2
    assert len(t.repaired) == 2 and not t.refused
    for line in project.paths.labels.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        (span,) = rec["entities"]
        assert rec["text"][span["start"] : span["end"]] == "서울"
