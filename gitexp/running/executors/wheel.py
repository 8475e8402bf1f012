"""The gitexp wheel a container image installs: built in memory from the running package.

gitexp may not be on any index the image can reach, so the build context
carries a wheel of the very gitexp that starts the run (``--no-deps``: the
tracking library needs only the stdlib). Its bytes depend only on the
package's files and version, so an unchanged gitexp keeps the image's tag.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from base64 import urlsafe_b64encode
from importlib import metadata, resources
from pathlib import Path

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same gitexp gives the same wheel bytes
#: how MLflow in the container finds gitexp's stores (the same lines as pyproject.toml's)
ENTRY_POINTS = (
    "[mlflow.artifact_repository]\n"
    "gitexp = gitexp.integrations.mlflow_store:artifact_repository\n\n"
    "[mlflow.model_registry_store]\n"
    "gitexp = gitexp.integrations.mlflow_registry:registry_store\n\n"
    "[mlflow.tracking_store]\n"
    "gitexp = gitexp.integrations.mlflow_store:tracking_store\n"
)


def gitexp_version() -> str:
    try:
        return metadata.version("gitexp")
    except metadata.PackageNotFoundError:
        import gitexp

        return gitexp.__version__


@functools.lru_cache(maxsize=1)
def gitexp_wheel() -> tuple[str, bytes]:
    """A wheel of the running gitexp package, built in memory, byte-for-byte reproducible.

    gitexp may not be on any index the image can reach, so the image installs
    this wheel (``--no-deps``: the tracking library needs only the stdlib).
    """
    pkg = Path(str(resources.files("gitexp")))  # the whole package
    version = gitexp_version()
    dist = f"gitexp-{version}.dist-info"
    entries: dict[str, bytes] = {}
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries["gitexp/" + path.relative_to(pkg).as_posix()] = path.read_bytes()
    entries[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: gitexp\nVersion: {version}\n"
        "Summary: gitexp tracking library (built from the host's gitexp for a container)\n"
    ).encode()
    entries[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: gitexp\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries[f"{dist}/entry_points.txt"] = ENTRY_POINTS.encode()
    entries[f"{dist}/RECORD"] = _record(entries, f"{dist}/RECORD")
    return f"gitexp-{version}-py3-none-any.whl", _zip(entries)


def _record(entries: dict[str, bytes], record_path: str) -> bytes:
    lines = []
    for path, data in entries.items():
        digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{record_path},,")
    return ("\n".join(lines) + "\n").encode()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()
