"""Demo helper: a simulated detector's predictions for the bundled road-objects example.

A real project brings its own model's output for `datakit check --predictions FILE`. The
demo has no detector, so this one is made from the example's known truth
(``data/raw/truth.json``, by file name): every box shifted and resized a little, seeded
scores, one box in eight missed and a false alarm in one image of four, the way a usable
but imperfect detector behaves. JSON lines ``{"item_id", "objects", "model_version"}``.

    python scripts/simulate_predictions.py PROJECT_DIR > predictions.jsonl
"""

from __future__ import annotations

import json
import posixpath
import random
import sys
from pathlib import Path

from datakit.project import Project
from datakit.tables import read_manifest


def main(root: str) -> int:
    project = Project(root)
    truth = json.loads((project.root / "data/raw/truth.json").read_text(encoding="utf-8"))
    rows = read_manifest(project.paths.manifest).select(["id", "source_path", "status"])
    rng = random.Random(42)
    field = project.spec.task.label_field
    classes = list(project.spec.task.class_names)
    for r in rows.to_pylist():
        if r["status"] != "ok":
            continue
        name = posixpath.basename(str(r["source_path"]))
        boxes = []
        for b in truth.get(name, {}).get(field, []):
            if rng.random() < 0.125:
                continue  # missed
            w, h = b["width"] * rng.uniform(0.9, 1.1), b["height"] * rng.uniform(0.9, 1.1)
            boxes.append(
                {
                    "label": b["label"],
                    "x": round(b["x"] + rng.uniform(-0.08, 0.08) * b["width"], 2),
                    "y": round(b["y"] + rng.uniform(-0.08, 0.08) * b["height"], 2),
                    "width": round(w, 2),
                    "height": round(h, 2),
                    "score": round(rng.uniform(0.5, 0.99), 3),
                }
            )
        if rng.random() < 0.25:  # a false alarm
            boxes.append(
                {
                    "label": rng.choice(classes),
                    "x": round(rng.uniform(0, 80), 2),
                    "y": round(rng.uniform(0, 80), 2),
                    "width": 10.0,
                    "height": 10.0,
                    "score": round(rng.uniform(0.1, 0.6), 3),
                }
            )
        rec = {"item_id": r["id"], field: boxes, "model_version": "demo-detector"}
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(Path.cwd())))
