"""An internal error's traceback goes where it can be written, and the line names
only a file that was written."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from gitexp.cli import app


def _crash(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        raise RuntimeError("boom in a command")
    except RuntimeError:
        code = app._internal_error()
    return code, capsys.readouterr().err


def _written(err: str) -> Path:
    found = re.fullmatch(r"gitexp: internal error; traceback written to (\S+)\n", err)
    assert found, err
    return Path(found.group(1))


def test_xdg_cache_home_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, err = _crash(capsys)
    assert code == app.EXIT_INTERNAL
    path = _written(err)
    assert path == tmp_path / "cache" / "gitexp" / "crash.log"
    assert "RuntimeError: boom in a command" in path.read_text(encoding="utf-8")


def test_an_unwritable_home_falls_back_to_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", "/dev/null")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, err = _crash(capsys)
    assert code == app.EXIT_INTERNAL
    path = _written(err)  # one line: no traceback printed on the way
    assert path.parent == tmp_path and path.name.startswith("gitexp-crash-")
    assert "RuntimeError: boom in a command" in path.read_text(encoding="utf-8")


def test_nowhere_to_write_says_so_with_the_last_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", "/dev/null")
    monkeypatch.setenv("XDG_CACHE_HOME", "/dev/null/cache")
    monkeypatch.setattr(tempfile, "tempdir", "/dev/null/tmp")
    code, err = _crash(capsys)
    assert code == app.EXIT_INTERNAL
    assert err == (
        "gitexp: internal error (RuntimeError: boom in a command); no crash log could be written\n"
    )
