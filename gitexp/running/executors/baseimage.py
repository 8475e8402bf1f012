"""The base images a build starts FROM: here, pulled once, or one line with a hint.

The Docker executor checks them in ``preflight``, before the experiment's
name is reserved, so a base image that is missing and cannot be pulled (no
registry in reach) is an environment problem reported in one line, not a
failed experiment. The hint names a local image that would do: the
``gitexp-base:*`` images scripts/docker-up.sh builds (docs/docker-setup.md).
"""

from __future__ import annotations

import sys
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.config.docker import BASE_IMAGE_ENV, DockerSettings

LOCAL_BASE_REPO = "gitexp-base"
DOCKER_UP = "`sudo scripts/docker-up.sh` in a gitexp checkout builds gitexp-base:py311"


def ensure(client: Any, name: str, settings: DockerSettings, pinned: bool) -> dict[str, Any]:
    """The base image's id and digest for run.json; pulled when it is not here."""
    from docker.errors import APIError, ImageNotFound

    try:
        image = client.images.get(name)
    except ImageNotFound:
        try:
            image = client.images.pull(name)
        except APIError as exc:
            reason = str(getattr(exc, "explanation", "") or exc).splitlines()[0][:200]
            raise BackendError(
                f"base image {name!r} is not here and could not be pulled ({reason})",
                hint(name, settings, pinned, local_bases(client)),
            ) from exc
    digests = image.attrs.get("RepoDigests") or []
    return {
        "base_image": name,
        "base_image_id": str(image.id),
        "base_image_digest": digests[0] if digests else None,
    }


def local_bases(client: Any) -> list[str]:
    """Tags of the local ``gitexp-base:*`` images, this host's Python (``py311``) first."""
    try:
        images = client.images.list(name=LOCAL_BASE_REPO)
    except Exception:  # a hint is not worth a second error
        return []
    tags = [t for i in images for t in i.tags if t.startswith(LOCAL_BASE_REPO + ":")]
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return sorted(tags, key=lambda t: (not t.endswith(f":{python}"), t))


def hint(name: str, settings: DockerSettings, pinned: bool, local: list[str]) -> str:
    """How to get a base image that works: a local one chosen through the settings,
    when the settings chose ``name``; else how to get ``name`` itself."""
    if pinned:
        return (
            f"the experiment's Dockerfile is pinned to it: `docker pull {name}` where the "
            "registry can be reached, or `docker load` a saved copy"
        )
    if name != settings.base_image:
        return f"pull or build it, or change `FROM {name}` in {settings.template}"
    if local:
        return (
            f"the local image {local[0]} is here: `export {BASE_IMAGE_ENV}={local[0]}`, "
            f"or `docker: {{base_image: {local[0]}}}` in gitexp.yaml"
        )
    return (
        f"pull or build one ({DOCKER_UP}), then set {BASE_IMAGE_ENV} "
        "or `docker.base_image` in gitexp.yaml"
    )
