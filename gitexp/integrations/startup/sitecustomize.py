"""gitexp's startup hook for zero-code mode (``gitexp run --autolog``).

Python imports ``sitecustomize`` at startup; this folder is first on
``PYTHONPATH`` only for a zero-code run (``gitexp/integrations/zerocode.py``).
In order: take this folder off ``PYTHONPATH`` and ``sys.path`` again (the
script, and any Python it starts, sees them as without gitexp); run the
``sitecustomize`` this one hid, if there is one (a failure in it is reported
by Python as usual); then seed and autolog as the run asks. gitexp comes
from the script's Python when it has one, else from the package this file
belongs to (it needs only the standard library). A failure here is one
warning line; the script runs regardless.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(os.path.dirname(HERE))  # .../gitexp


def _here(path: str) -> bool:
    try:
        return os.path.samefile(path or ".", HERE)
    except OSError:
        return False


def _forget_this_folder() -> None:
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and not _here(p)]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)
    sys.path[:] = [p for p in sys.path if not _here(p)]


def _chain() -> None:
    """Run the sitecustomize that Python would have found without this folder."""
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _zerocode() -> ModuleType:
    try:
        from gitexp.integrations import zerocode
    except ImportError:  # no gitexp (or an older one) in the script's Python
        for name in [n for n in sys.modules if n == "gitexp" or n.startswith("gitexp.")]:
            del sys.modules[name]
        spec = importlib.util.spec_from_file_location(
            "gitexp", os.path.join(PACKAGE, "__init__.py"), submodule_search_locations=[PACKAGE]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["gitexp"] = package
        spec.loader.exec_module(package)
        from gitexp.integrations import zerocode
    return zerocode


def _start() -> None:
    if not os.environ.get("GITEXP_RUN_DIR"):
        return
    try:
        _zerocode().start()
    except Exception as exc:
        sys.stderr.write(f"gitexp: warning: zero-code mode is off: {type(exc).__name__}: {exc}\n")


_forget_this_folder()
try:
    _chain()
finally:
    _start()
