"""Where things live in a run dir and in an experiment's tree: every ``.gitexp/`` path.

An experiment commit is the workspace as it ran plus a ``.gitexp/`` folder
(docs/storage-format.md); the run dir is that workspace while the command
runs, with the library's live files under ``.gitexp/live/``
(gitexp/tracking/wire.py says what they hold). Paths are relative, posix,
the same in a tree and below a run dir. Plain constants, stdlib only: the
tracking library imports this module.
"""

from __future__ import annotations

META_DIR = ".gitexp"

# the record of a finished run (in its commit); *_NAME: the name inside META_DIR
RUN_JSON_NAME = "run.json"
METRICS_JSON_NAME = "metrics.json"
RUN_JSON = f"{META_DIR}/{RUN_JSON_NAME}"
METRICS_JSON = f"{META_DIR}/{METRICS_JSON_NAME}"
OUTPUT_LOG = f"{META_DIR}/output.log"
HISTORY_DIR = f"{META_DIR}/history"  # <metric>.tsv per series
ENV_DIR = f"{META_DIR}/env"
REQUIREMENTS_TXT = f"{ENV_DIR}/requirements.txt"
SYSTEM_JSON = f"{ENV_DIR}/system.json"
DOCKERFILE = f"{ENV_DIR}/Dockerfile"  # the text a docker run was built from

# what the run dir holds while the command runs (never committed)
PARAMS_JSON = f"{META_DIR}/params.json"  # merged params, for gitexp.params()
LIVE_DIR = f"{META_DIR}/live"  # appended by the tracking library
LIVE_METRICS = "metrics.tsv"
LIVE_PARAMS = "params.jsonl"
LIVE_ARTIFACTS = "artifacts.jsonl"

# a docker build context (not the run dir)
DOCKERFILE_IN_CONTEXT = f"{META_DIR}/Dockerfile"
WHEELS_DIR = f"{META_DIR}/wheels"  # the gitexp wheel the image installs

# Seeds are 0..MAX_SEED: NumPy's legacy seeding takes < 2**32 and PYTHONHASHSEED
# at most 4294967295, so every seed a run gets works for both. gitexp.yaml and
# --seed refuse a larger one (it would stop Python from starting); the runner
# draws a random one below it; seed_everything() reduces a larger one modulo 2**32.
MAX_SEED = 2**32 - 1
# A seed gitexp draws itself stays below 2**31: LightGBM, XGBoost and other C
# libraries take a signed 32-bit int, so a drawn seed works everywhere as is.
DRAWN_SEED_LIMIT = 2**31
