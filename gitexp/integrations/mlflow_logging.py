"""How MLflow's writes become the tracking library's: params typed back from MLflow's
strings, user tags as params, metrics at MLflow's step, names made safe for paths.

Stdlib and the tracking library only (no MLflow import): the stores in
mlflow_store.py call these, and tests can check the translation on its own.
"""

from __future__ import annotations

import math
import re
from typing import Any

from gitexp.tracking import recorder

TAG_PREFIX = "mlflow.tags."
_WORDS: dict[str, Any] = {"None": None, "True": True, "False": False}


def typed(text: str | None) -> Any:
    """An MLflow param value (always a string) as the value the script logged: the
    number or constant whose ``str`` it is (``"007"`` stays text, so does ``"nan"``)."""
    if text is None or text in _WORDS:
        return _WORDS.get(text or "None")
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if str(value) == text and math.isfinite(value):
            return value
    return text


def record(prefix: str, metrics: Any, params: Any, tags: Any) -> None:
    """What MLflow logged, in the tracking library's terms (see the module doc)."""
    logged = {f"{prefix}{p.key}": typed(p.value) for p in params}
    user_tags = [t for t in tags if not t.key.startswith("mlflow.")]
    logged.update({f"{prefix}{TAG_PREFIX}{t.key}": t.value for t in user_tags})
    if logged:
        recorder.log_params(logged)
    for metric in metrics:
        recorder.log_metric(f"{prefix}{metric.key}", metric.value, metric.step)


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name) or "_"
