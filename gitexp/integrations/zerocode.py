"""Zero-code mode: autolog and seeding in a script that calls neither.

``gitexp run --autolog`` (or ``autolog:`` / ``seed.auto`` in gitexp.yaml)
runs the command with ``ZeroCode.env()``: the ``startup/`` folder first on
``PYTHONPATH``, so Python runs its ``sitecustomize`` at startup, and the
``GITEXP_AUTOLOG*`` variables that say what to turn on. That hook calls
``start()``, which:

- (the hook itself, first) puts ``PYTHONPATH`` and ``sys.path`` back as the
  script would see them without gitexp, so Python processes the script
  starts are left alone, and runs the ``sitecustomize`` it hid, if any;
- seeds random, NumPy, PyTorch and TensorFlow from ``GITEXP_SEED`` when, and
  only when, the script imports them (``tracking.seeding.SEEDERS``);
- calls ``autolog()`` for the frameworks asked for (hooked on import).

Nothing happens outside a run (no ``GITEXP_RUN_DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

STARTUP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "startup")
ENV_AUTOLOG = "GITEXP_AUTOLOG"  # "all" or "sklearn,xgboost": what autolog hooks
ENV_LOG_MODELS = "GITEXP_AUTOLOG_MODELS"  # "0": no model artifacts
ENV_SEED = "GITEXP_AUTOSEED"  # "1": seed generators as their modules are imported
ENV_DETERMINISTIC = "GITEXP_DETERMINISTIC"  # "1": deterministic kernels as well
SEED_GROUP = "seed"


@dataclass(frozen=True)
class ZeroCode:
    """What zero-code mode turns on for one run (from flags and gitexp.yaml)."""

    autolog: bool = False
    frameworks: tuple[str, ...] = ()  # empty: every integration
    log_models: bool = True
    seed: bool = False  # autolog and deterministic seed as well
    deterministic: bool = False

    @property
    def active(self) -> bool:
        return self.autolog or self.seed or self.deterministic

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The variables the command gets; ``base`` is the environment it
        would have had (its ``PYTHONPATH`` is kept, after the hook's folder)."""
        if not self.active:
            return {}
        paths = [STARTUP_DIR, *[p for p in base.get("PYTHONPATH", "").split(os.pathsep) if p]]
        env = {
            "PYTHONPATH": os.pathsep.join(paths),
            ENV_SEED: "1",
        }
        if self.autolog:
            env[ENV_AUTOLOG] = ",".join(self.frameworks) or "all"
            env[ENV_LOG_MODELS] = "1" if self.log_models else "0"
        if self.deterministic:
            from gitexp.tracking.seeding import DETERMINISTIC_ENV

            env[ENV_DETERMINISTIC] = "1"
            env.update({k: v for k, v in DETERMINISTIC_ENV.items() if k not in base})
        return env

    def record(self) -> dict[str, Any]:
        """The run.json field ``zero_code``: what the run was started with."""
        found: dict[str, Any] = {"seed": True}
        if self.autolog:
            found["autolog"] = list(self.frameworks) or "all"
            found["log_models"] = self.log_models
        found["deterministic"] = self.deterministic
        return found


def from_record(field: object) -> ZeroCode:
    """The setting a run recorded as ``zero_code`` (what ``record`` wrote), to run it
    again the same way (``gitexp reproduce``); off when the run had none."""
    if not isinstance(field, dict):
        return ZeroCode()
    autolog = field.get("autolog")
    frameworks = tuple(autolog) if isinstance(autolog, list) else ()
    return ZeroCode(
        autolog=bool(autolog),
        frameworks=tuple(str(f) for f in frameworks),
        log_models=bool(field.get("log_models", True)),
        seed=bool(field.get("seed", True)),
        deterministic=bool(field.get("deterministic", False)),
    )


def start(environ: Mapping[str, str] = os.environ) -> None:
    """The startup hook's work in the command's Python process (see the module doc)."""
    if not environ.get("GITEXP_RUN_DIR"):
        return
    if environ.get(ENV_SEED) == "1" and environ.get("GITEXP_SEED", "").isdigit():
        seed_on_import(int(environ["GITEXP_SEED"]), environ.get(ENV_DETERMINISTIC) == "1")
    wanted = environ.get(ENV_AUTOLOG)
    if wanted:
        from gitexp.integrations.autolog import autolog

        frameworks = None if wanted == "all" else wanted.split(",")
        autolog(frameworks=frameworks, log_models=environ.get(ENV_LOG_MODELS, "1") == "1")


def seed_on_import(seed: int, deterministic: bool) -> None:
    """Seed each generator of ``SEEDERS`` once its module is imported (now if it is)."""
    from gitexp.integrations import imports
    from gitexp.tracking.seeding import SEEDERS

    for module, seeder in SEEDERS.items():
        imports.when_imported(module, _seeding(seeder, seed, deterministic), group=SEED_GROUP)


def _seeding(
    seeder: Callable[[int, bool], None], seed: int, deterministic: bool
) -> Callable[[ModuleType], None]:
    def seed_it(module: ModuleType) -> None:
        seeder(seed, deterministic)

    return seed_it


def command_env(zero: ZeroCode, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What every gitexp run gives its command for the integrations: MLflow's calls
    recorded into the run (docs/integrations.md), and zero-code mode when on."""
    return {"MLFLOW_TRACKING_URI": "gitexp:", **zero.env(base)}
