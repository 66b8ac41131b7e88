"""Demo helper: a simulated inspector fills in the semantic-accuracy sheet.

For the bundled classification example the ground truth is known at intake (the
manifest's ``intake_label``), so the inspector marks each sampled label PASS when it
equals the truth and FAIL otherwise — what a real inspector does by reading the item.

    python scripts/simulate_inspection.py PROJECT_DIR
"""

from __future__ import annotations

import csv
import json
import sys

from datakit.check.inspection import SHEET_FILE, inspection_dir
from datakit.project import Project
from datakit.tables import iter_label_records, read_manifest


def main(root: str) -> int:
    project = Project(root)
    sheet = inspection_dir(project) / SHEET_FILE
    truth = {
        r["id"]: r["intake_label"]
        for r in read_manifest(project.paths.manifest).select(["id", "intake_label"]).to_pylist()
    }
    field = project.spec.task.label_field
    labels = {rec["id"]: rec.get(field) for _, rec in iter_label_records(project.paths.labels)}
    with sheet.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        print(f"{sheet}: no sampled items", file=sys.stderr)
        return 2
    for row in rows:
        item = row["item_id"]
        ok = truth.get(item) is not None and labels.get(item) == truth[item]
        row["verdict"] = "PASS" if ok else "FAIL"
        shown = json.dumps(labels.get(item), ensure_ascii=False)
        row["note"] = "" if ok else f"정답 {truth.get(item)!s}, 라벨 {shown}"
        row["inspector"] = "inspector@datakit.local"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    passed = sum(r["verdict"] == "PASS" for r in rows)
    print(
        f"inspected {len(rows)} sampled items: {passed} PASS, {len(rows) - passed} FAIL → {sheet}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
