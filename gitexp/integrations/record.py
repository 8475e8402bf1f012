"""What integrations record, through the tracking library (``gitexp/tracking``).

Params are namespaced by integration (``sklearn.C``) and made plain (numbers,
text, booleans, None; anything else as its short ``repr``). Models and tables
are written below ``autolog/`` in the run directory and handed to
``log_artifact`` (DVC takes them when large); outside a run nothing is
written. Every recording error becomes one warning line: autolog never
breaks the training it watches.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gitexp.tracking import recorder

MODELS_DIR = "autolog"  # below the run dir: models and tables autolog writes
MAX_TEXT = 250  # longest param value kept as text (a repr of a big object is cut)
_warned: set[str] = set()


def warn(message: str) -> None:
    """One line on stderr, once per message: the script's output stays its own."""
    if message not in _warned:
        _warned.add(message)
        print(f"gitexp: warning: autolog: {message}", file=sys.stderr)


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Recording that fails says so in one line and lets training go on."""
    try:
        yield
    except Exception as exc:
        warn(f"could not record {what}: {type(exc).__name__}: {exc}")


def in_run() -> bool:
    return bool(os.environ.get("GITEXP_RUN_DIR"))


def log_params(namespace: str, params: Mapping[str, Any]) -> None:
    """``{namespace}.{key}`` for every param, its value made plain."""
    recorder.log_params({f"{namespace}.{key}": plain(value) for key, value in params.items()})


def plain(value: Any) -> Any:
    """A value a params table can show: numbers (NumPy's too), text, bools, None."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    item = getattr(value, "item", None)  # a NumPy scalar
    if callable(item) and getattr(value, "shape", None) == ():
        return plain(item())
    text = repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def log_metric(name: str, value: Any, step: int | None = None) -> None:
    number = float(value)
    recorder.log_metric(name, number, step)


def save_artifact(filename: str, write: Callable[[str], None]) -> str | None:
    """``write(path)`` below ``autolog/`` in the run dir, then ``log_artifact``;
    the path, or None outside a run. The same name again replaces the file
    (the last model fitted of a kind is the one kept). ``write`` gets a
    temporary name with the same suffix, renamed once it returned: a write
    that fails midway leaves no half-written model to commit."""
    run_dir = os.environ.get("GITEXP_RUN_DIR")
    if not run_dir:
        return None
    folder = os.path.join(run_dir, MODELS_DIR)
    os.makedirs(folder, exist_ok=True)
    name = safe_name(filename)
    path, partial = os.path.join(folder, name), os.path.join(folder, "partial-" + name)
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    recorder.log_artifact(path)
    return path


def safe_name(filename: str) -> str:
    """A file name from a class name and a suffix, nothing a path could misread."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", filename).lstrip(".") or "model"
