"""Helpers for the composition tests: a repository whose params are composed from
config groups (Hydra style), and the params OmegaConf itself composes from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_repo, run_gitexp

CONFIG = """\
defaults:
  - model: resnet
  - optimizer: adam
  - _self_
epochs: 3
run_name: ${model.arch}-${optimizer.name}-e${epochs}
"""
# the script records what it read from params.yaml, and one metric from it
TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))
json.dump(p, open("seen.json", "w"))
print("acc:", 0.5 + p["optimizer"]["lr"] + p["epochs"] / 100)
"""
FILES = {
    "gitexp.yaml": "command: python train.py\nparams:\n  compose: conf/config.yaml\n",
    "conf/config.yaml": CONFIG,
    "conf/model/resnet.yaml": "arch: resnet\ndepth: 18\n",
    "conf/model/vit.yaml": "arch: vit\npatch: 16\n",
    "conf/optimizer/adam.yaml": "name: adam\nlr: 0.01\n",
    "conf/optimizer/sgd.yaml": "name: sgd\nlr: 0.1\nmomentum: 0.9\n",
    "conf/augment/strong.yaml": "flips: true\ncrop: 0.8\n",  # a group no default names
    "train.py": TRAIN,
    ".gitignore": "params.yaml\n",  # generated: each run composes its own
}


def compose_repo(root: Path, more: dict[str, str] | None = None) -> Path:
    return make_repo(root, {**FILES, **(more or {})})


def omegaconf_compose(conf: Path, overrides: list[str]) -> dict[str, Any]:
    """What Hydra and OmegaConf compose from ``conf/config.yaml`` (no gitexp code)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(conf), version_base=None):
        cfg = compose("config", overrides)
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    return data  # type: ignore[return-value]


def gitexp(root: Path, *args: str) -> Any:
    """`gitexp ARGS` in ``root``; asserts nothing."""
    return run_gitexp(*args, cwd=root, timeout=180)


def ok(root: Path, *args: str) -> Any:
    proc = gitexp(root, *args)
    assert proc.returncode == 0, proc.stderr
    return proc
