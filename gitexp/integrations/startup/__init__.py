"""The folder zero-code mode puts first on PYTHONPATH: it holds ``sitecustomize``."""
