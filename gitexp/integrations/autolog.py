"""``gitexp.autolog()``: turn integrations on as their frameworks get imported.

A framework already imported is hooked now; one installed but not yet
imported is hooked when the script imports it (``imports.when_imported``);
one not installed is skipped, and nothing is imported for any of them.
Calling ``autolog`` again replaces the previous setup; ``disable=True``
undoes every patch and forgets every pending hook.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from types import ModuleType

from gitexp.common import suggest
from gitexp.integrations import imports, patches, record, registry
from gitexp.integrations.base import Integration, Options

GROUP = "autolog"


def autolog(
    frameworks: Iterable[str] | None = None, log_models: bool = True, disable: bool = False
) -> list[str]:
    """Enable the integrations of ``frameworks`` (all when None); the names enabled
    or waiting for their framework's import. ``disable`` turns everything off."""
    imports.forget(GROUP)
    patches.undo_all()
    if disable:
        return []
    names = _chosen(frameworks)
    options = Options(log_models=log_models)
    imports.on_error(lambda module, exc: record.warn(f"{module}: {type(exc).__name__}: {exc}"))
    waiting = []
    for name in names:
        integration = registry.load(name)
        if not _installed(integration.module):
            if frameworks is not None:
                record.warn(f"{name} is not installed; skipped")
            continue
        imports.when_imported(
            integration.module,
            _enabler(integration, options),
            group=GROUP,
            with_submodules=integration.submodules,
        )
        waiting.append(name)
    return waiting


def _chosen(frameworks: Iterable[str] | None) -> list[str]:
    known = list(registry.INTEGRATIONS)
    if frameworks is None:
        return known
    if isinstance(frameworks, str):
        frameworks = [frameworks]
    chosen = []
    for name in frameworks:
        if name not in registry.INTEGRATIONS:
            # library names share parts (catboost, xgboost): only a near-typo is suggested
            hint = suggest.hint(name, known, "did you mean {!r}?", cutoff=0.75)
            raise ValueError(
                f"autolog: unknown framework {name!r}"
                + (f" ({hint})" if hint else "")
                + f"; known: {', '.join(known)}"
            )
        chosen.append(name)
    return chosen


def _installed(module: str) -> bool:
    """Without importing it (find_spec of a top-level name imports nothing)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _enabler(integration: Integration, options: Options) -> imports.Callback:
    """The callback run for the framework's module (and submodules): check the
    version once, then enable; an unsupported version warns and stays off."""
    verdict: list[str | None] = []

    def enable(module: ModuleType) -> None:
        top = sys.modules.get(integration.module)
        if not verdict and hasattr(top, "__version__"):  # not yet while it imports itself
            verdict.append(integration.unsupported(top))  # type: ignore[arg-type]
            if verdict[0]:
                record.warn(f"{verdict[0]} is not supported; not recorded")
        if not verdict or verdict[0] is None:
            integration.enable(module, options)

    return enable
