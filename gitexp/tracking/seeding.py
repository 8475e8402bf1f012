"""Seed every random number generator a training script is likely to use.

gitexp never imports a framework the script does not: a framework already
imported is seeded at once, one imported later is seeded as its import
finishes (an import hook), one not installed is ignored. So a NumPy script
pays nothing for torch being installed. ``SEEDERS`` is the one list of what
gets seeded; zero-code mode (``gitexp run --autolog``) uses the same hook.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
import sys
from collections.abc import Callable

from gitexp.common.layout import MAX_SEED

#: what deterministic kernels need in the environment before CUDA starts
DETERMINISTIC_ENV = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "TF_DETERMINISTIC_OPS": "1"}


def seed_everything(seed: int | None = None, *, deterministic: bool = False) -> int:
    """Seed random, NumPy, PyTorch and TensorFlow; return the seed used.

    Without an argument the run's seed (``GITEXP_SEED``) is used; outside a
    run a fresh seed is drawn and announced so it can be reused.
    ``deterministic`` also asks PyTorch and TensorFlow for deterministic kernels.
    """
    if seed is None:
        env = os.environ.get("GITEXP_SEED")
        if env:
            seed = int(env)
        else:
            seed = random.SystemRandom().randrange(MAX_SEED)
            print(f"gitexp: no run seed; seeding with {seed}", file=sys.stderr)
    seed = int(seed) % (MAX_SEED + 1)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))  # for child processes
    if deterministic:
        for key, value in DETERMINISTIC_ENV.items():
            os.environ.setdefault(key, value)
    from gitexp.integrations.imports import forget, when_imported  # stdlib only

    forget("seed_everything")  # a second call replaces the first's pending seeds
    for module, seeder in SEEDERS.items():
        if _installed(module.partition(".")[0]):
            when_imported(module, _once(seeder, seed, deterministic), group="seed_everything")
    return seed


def _once(
    seeder: Callable[[int, bool], None], seed: int, deterministic: bool
) -> Callable[[object], None]:
    def seed_it(module: object) -> None:
        seeder(seed, deterministic)

    return seed_it


def _installed(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


def _seed_random(seed: int, deterministic: bool) -> None:
    random.seed(seed)


def _seed_numpy(seed: int, deterministic: bool) -> None:
    # not `numpy.random.seed`: called while numpy.random finishes importing, the
    # attribute is not on numpy yet and numpy's lazy __getattr__ would recurse
    importlib.import_module("numpy.random").seed(seed)


def _seed_torch(seed: int, deterministic: bool) -> None:
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def _seed_tensorflow(seed: int, deterministic: bool) -> None:
    import tensorflow

    tensorflow.random.set_seed(seed)
    if deterministic:
        tensorflow.config.experimental.enable_op_determinism()


#: the module whose import makes a generator worth seeding -> how to seed it
SEEDERS: dict[str, Callable[[int, bool], None]] = {
    "random": _seed_random,
    "numpy.random": _seed_numpy,
    "torch": _seed_torch,
    "tensorflow": _seed_tensorflow,
}
