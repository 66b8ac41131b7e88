"""유효성 검증 (validity): a baseline model per task, its metric on the release's held-out
split against the planned target, and the labels the model doubts.

* :func:`measure_validity` — train/tune/score (or score the user's predictions) and judge;
* :class:`ValidityResult` — the result, written to and read from ``reports/validity.json``;
* :class:`SuspectList` — ``reports/의심_라벨오류.csv``, written and read back.

scikit-learn, scikit-image, sklearn-crfsuite, seqeval, cleanlab, jiwer and pycocotools are
imported inside the functions that use them: ``datakit --help`` pays for none of them.
"""

from .result import VALIDITY_FILE, ValidityResult, judge
from .run import measure_validity
from .suspects import SUSPECTS_FILE, Suspect, SuspectList

__all__ = [
    "SUSPECTS_FILE",
    "VALIDITY_FILE",
    "Suspect",
    "SuspectList",
    "ValidityResult",
    "judge",
    "measure_validity",
]
