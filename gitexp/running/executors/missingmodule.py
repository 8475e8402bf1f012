"""A container run that failed on ``ModuleNotFoundError``: say how the module gets in.

gitexp goes into the image with ``--no-deps`` and the image has only what
its base image and the experiment's requirements file bring (docs/docker.md),
so a script that imports a package the host has (``yaml``) can fail in the
container. docker.py hands over the end of the command's output; this module
turns it into one hint line. No Docker SDK here.
"""

from __future__ import annotations

import re
from pathlib import Path

from gitexp.config.docker import DockerSettings
from gitexp.running.executors.images import DEFAULT_REQUIREMENTS

_NO_MODULE = re.compile(rb"ModuleNotFoundError: No module named '([A-Za-z0-9_.]+)'")
#: import names whose package on PyPI is named otherwise
PIP_NAMES = {
    "yaml": "PyYAML",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python-headless",
    "PIL": "Pillow",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "attr": "attrs",
}


def missing_module(output: bytes) -> str | None:
    """The top-level module the output's last ``ModuleNotFoundError`` names, if any."""
    found = _NO_MODULE.findall(output)
    return found[-1].decode().split(".")[0] if found else None


def module_hint(module: str, settings: DockerSettings, run_dir: Path) -> str | None:
    """How to get ``module`` into the image; None when it is the repository's own
    (then it is a path problem, not a missing package)."""
    if (run_dir / f"{module}.py").exists() or (run_dir / module).is_dir():
        return None
    package = PIP_NAMES.get(module, module)
    requirements = settings.requirements or DEFAULT_REQUIREMENTS
    how = (
        "the next `--docker` run builds an image with it"
        if settings.template is None
        else f"{settings.template} installs it where it has {{{{ requirements }}}}"
    )
    return (
        f"the image has no module {module!r}: add `{package}` to {requirements} "
        f"in the repository; {how} (docs/docker.md)"
    )
