"""Every autolog integration, by name: adding one is a new module and one line here.

Values are ``"module:attribute"`` paths to an object that follows
``base.Integration``; they are imported only when ``autolog()`` runs, and
importing them imports no framework. Order matters only for the order
in which frameworks imported together are enabled.
"""

from __future__ import annotations

import importlib

from gitexp.integrations.base import Integration

INTEGRATIONS: dict[str, str] = {
    "sklearn": "gitexp.integrations.sklearn_hooks:INTEGRATION",
    "xgboost": "gitexp.integrations.xgboost_hooks:INTEGRATION",
    "lightgbm": "gitexp.integrations.lightgbm_hooks:INTEGRATION",
    "keras": "gitexp.integrations.keras_hooks:INTEGRATION",
    "fastai": "gitexp.integrations.fastai_hooks:INTEGRATION",
}


def load(name: str) -> Integration:
    module, _, attribute = INTEGRATIONS[name].partition(":")
    found: Integration = getattr(importlib.import_module(module), attribute)
    return found
