"""Demo helper: a simulated detector's predictions for the bundled road-objects example.

A real project brings its own model's output for `datakit check --predictions FILE`. The
demo has no detector, so this one is made from the project's final labels
(``annotations/labels.jsonl``, what the simulated annotators drew): every box shifted and
resized a little, seeded scores, one box in eight missed and a false alarm in one image of
four, the way a usable but imperfect detector behaves. JSON lines ``{"item_id", "objects",
"model_version"}``.

    python scripts/simulate_predictions.py PROJECT_DIR > predictions.jsonl
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from datakit.project import Project
from datakit.tables import iter_label_records


def main(root: str) -> int:
    project = Project(root)
    rng = random.Random(42)
    field = project.spec.task.label_field
    classes = list(project.spec.task.class_names)
    for _, rec in iter_label_records(project.paths.labels):
        boxes = []
        for b in rec.get(field) or []:
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
        out = {"item_id": rec["id"], field: boxes, "model_version": "demo-detector"}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(Path.cwd())))
