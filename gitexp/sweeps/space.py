"""Search spaces: what `-p KEY=SPACE` and a sweep file's `params:` say each param may be.

Forms (the same on the command line and as a string in YAML):

- ``float(lo,hi)``, ``float(lo,hi,log)``, ``loguniform(lo,hi)``, ``float(lo,hi,STEP)``
- ``int(lo,hi)``, ``int(lo,hi,STEP)``, ``int(lo,hi,log)``
- ``choice(a,b,...)``: an item that reads as a number is that number; any other
  item is the text typed (``choice(on, off, no, null)`` gives the strings
  ``"on"``, ``"off"``, ``"no"``, ``"null"``), quotes force text: ``choice("1", "a,b")``
- anything else: a fixed value, not searched.

In YAML, a list is a choice with the types YAML gave its items and any other
scalar is fixed. Optuna is imported only by ``distribution``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from gitexp.common.errors import UsageError

Value = str | int | float | bool | None
_CALL = re.compile(r"^\s*(float|int|loguniform|choice)\s*\((.*)\)\s*$", re.DOTALL)
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|nan)$")
GRID_HINT = "grid search needs finite values: choice(...), int(lo,hi) or float(lo,hi,STEP)"


@dataclass(frozen=True)
class Space:
    """One param's space: ``kind`` float, int, choice or fixed."""

    kind: str  # float, int, choice, fixed
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()
    text: str = ""  # as the user wrote it, for tables and the manifest

    @property
    def searched(self) -> bool:
        return self.kind != "fixed"

    def grid(self) -> list[Value] | None:
        """Every value of a finite space, in order; None when it is continuous."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "fixed":
            return None
        if self.step is None or self.log:
            return list(range(int(self.low), int(self.high) + 1)) if self.kind == "int" else None
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        values = [self.low + i * self.step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]


def parse(key: str, text: str) -> Space:
    """``-p KEY=SPACE``'s SPACE; a plain text is a fixed value (kept as text)."""
    match = _CALL.match(text)
    if match is None:
        return Space("fixed", text=text)  # no choices: applied as `-p KEY=TEXT` would be
    kind, args = match[1], _split(key, match[2])
    if kind == "choice":
        if not args:
            raise _bad(key, text, "choice() needs at least one value")
        return Space("choice", choices=tuple(_item(a) for a in args), text=text)
    return _range(key, text, "float" if kind == "loguniform" else kind, args, kind == "loguniform")


def from_yaml(key: str, value: Any) -> Space:
    """A value under a sweep file's `params:`: a SPACE string, a list (choice) or fixed."""
    if isinstance(value, str):
        space = parse(key, value)
        return space if space.searched else Space("fixed", choices=(value,), text=value)
    if isinstance(value, list):
        if not value or not all(v is None or isinstance(v, str | int | float) for v in value):
            raise _bad(key, str(value), "a choice lists plain values (numbers, text, booleans)")
        return Space("choice", choices=tuple(value), text=f"choice({', '.join(map(str, value))})")
    if value is None or isinstance(value, int | float | bool):
        return Space("fixed", choices=(value,), text=str(value))
    raise _bad(key, str(value), "write a SPACE such as float(0.001,0.1), a list, or a value")


def _range(key: str, text: str, kind: str, args: list[str], log: bool) -> Space:
    if len(args) not in (2, 3):
        raise _bad(key, text, f"{kind}() takes lo, hi and an optional step or `log`")
    low, high = (_number(key, text, a, kind) for a in args[:2])
    step: float | None = None
    if len(args) == 3:
        if args[2].strip().lower() == "log":
            log = True
        else:
            step = _number(key, text, args[2], kind)
            if step <= 0:
                raise _bad(key, text, "the step must be positive")
    if not low < high:
        raise _bad(key, text, f"lo must be below hi, got {args[0].strip()} and {args[1].strip()}")
    if log and low <= 0:
        raise _bad(key, text, "a log scale needs lo > 0")
    if log and step is not None:
        raise _bad(key, text, "a log scale takes no step")
    return Space(kind, low=low, high=high, step=step, log=log, text=text)


def _number(key: str, text: str, arg: str, kind: str) -> float:
    arg = arg.strip()
    pattern = _INT if kind == "int" else _FLOAT
    if not pattern.match(arg) or arg.lower().lstrip("+-") in ("inf", "nan"):
        raise _bad(key, text, f"{arg!r} is not {'an integer' if kind == 'int' else 'a number'}")
    return float(arg)


def _item(arg: str) -> Value:
    """A choice's item: a number when it reads as one, else the text as typed."""
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"":
        return arg[1:-1]
    if _INT.match(arg):
        return int(arg)
    if _FLOAT.match(arg) and arg.lower().lstrip("+-") not in ("inf", "nan"):
        return float(arg)
    return arg


def _split(key: str, inner: str) -> list[str]:
    """Comma-separated items; commas inside quotes belong to the item."""
    items, current, quote = [], "", ""
    for ch in inner:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            items.append(current)
            current = ""
            continue
        current += ch
    if quote:
        raise _bad(key, inner, "an unclosed quote")
    items.append(current)
    return [] if items == [""] else items


def _bad(key: str, text: str, problem: str) -> UsageError:
    return UsageError(
        f"bad search space for {key!r}: {text!r}: {problem}",
        "write float(lo,hi), float(lo,hi,log), int(lo,hi[,step]), choice(a,b,...) or a value",
    )


def distribution(space: Space) -> Any:
    """The Optuna distribution a searched space samples from."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if space.kind == "choice":
        return CategoricalDistribution(list(space.choices))
    if space.kind == "int":
        step = int(space.step or 1)
        return IntDistribution(int(space.low), int(space.high), log=space.log, step=step)
    return FloatDistribution(space.low, space.high, log=space.log, step=space.step)


def grid_space(spaces: dict[str, Space]) -> dict[str, list[Value]]:
    """The grid of every searched space, or a one-line refusal naming a continuous one."""
    out: dict[str, list[Value]] = {}
    for key, space in spaces.items():
        values = space.grid()
        if values is None:
            raise UsageError(f"cannot grid-search {key!r} = {space.text}", GRID_HINT)
        out[key] = values
    return out
