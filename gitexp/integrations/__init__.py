"""Autolog integrations: what ``gitexp.autolog()`` and zero-code mode turn on.

A room of its own for framework hooks (scikit-learn, XGBoost, LightGBM, ...).
Everything here is stdlib-only at import time: a framework is imported by
the script, never by gitexp; an integration is enabled when its framework
finishes importing (``imports.py``). Adding one is a new module and one
line in ``registry.py``; the contract is ``base.Integration``.
"""
