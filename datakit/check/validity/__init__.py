"""유효성 검증 (validity): a baseline model per task, its metric on the release's held-out
split against the planned target, and the labels the model doubts.

* :func:`measure_validity` — train/tune/score (or score the user's predictions) and judge;
* the result, :class:`datakit.validity_report.ValidityResult` (core: package reads it too);
* :class:`SuspectList` — ``reports/의심_라벨오류.csv``, written and read back.

scikit-learn, scikit-image, sklearn-crfsuite, seqeval, cleanlab, jiwer and pycocotools are
imported inside the functions that use them: ``datakit --help`` pays for none of them.
"""

from .run import measure_validity
from .suspects import SUSPECTS_FILE, Suspect, SuspectList

__all__ = [
    "SUSPECTS_FILE",
    "Suspect",
    "SuspectList",
    "measure_validity",
]
