"""Seed every random number generator a training script is likely to use.

Frameworks are seeded only when installed, and imported only then, so a
script without torch or tensorflow pays nothing for them.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys

from gitexp.common.layout import MAX_SEED


def seed_everything(seed: int | None = None, *, deterministic: bool = False) -> int:
    """Seed random, NumPy, PyTorch and TensorFlow; return the seed used.

    Without an argument the run's seed (``GITEXP_SEED``) is used; outside a
    run a fresh seed is drawn and announced so it can be reused.
    """
    if seed is None:
        env = os.environ.get("GITEXP_SEED")
        if env:
            seed = int(env)
        else:
            seed = random.SystemRandom().randrange(MAX_SEED)
            print(f"gitexp: no run seed; seeding with {seed}", file=sys.stderr)
    seed = int(seed) % (MAX_SEED + 1)
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))  # for child processes
    if _installed("numpy"):
        import numpy

        numpy.random.seed(seed)
    if _installed("torch"):
        _seed_torch(seed, deterministic)
    if _installed("tensorflow"):
        import tensorflow

        tensorflow.random.set_seed(seed)
    return seed


def _installed(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


def _seed_torch(seed: int, deterministic: bool) -> None:
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
