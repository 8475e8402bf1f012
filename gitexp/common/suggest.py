"""Did-you-mean for names a user typed: one rule for params, columns and config keys.

People type the wrong case (``c`` for ``C``) or the start of a name (``acc`` for
``accuracy``) more often than a random misspelling, so those win over
difflib's similarity ratio, which alone suggests ``auc`` for ``acc``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MUCH_CLOSER_MIN = 0.8  # difflib ratio a similar name needs to beat a covering one
MUCH_CLOSER_BY = 0.2  # and by how much it must beat it


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate ``word`` most likely meant, or None.

    Order: same name ignoring case; then the shortest candidate that starts
    with ``word`` (ignoring case); then the one that ``word`` starts with,
    unless difflib's most similar is much closer (``_much_closer``); then the
    most similar by difflib, ignoring case.
    """
    names = sorted(set(candidates))
    if not names or not word:
        return None
    lower = word.lower()
    by_lower = {n.lower(): n for n in reversed(names)}
    if lower in by_lower:
        return by_lower[lower]
    prefixed = [n for n in names if n.lower().startswith(lower)]
    if prefixed:
        return min(prefixed, key=lambda n: (len(n), n))
    close = difflib.get_close_matches(lower, list(by_lower), n=1, cutoff=cutoff)
    similar = by_lower[close[0]] if close else None
    covering = [n for n in names if lower.startswith(n.lower()) and len(n) >= 2]
    if covering:
        cover = max(covering, key=lambda n: (len(n), n))
        return similar if _much_closer(lower, similar, cover) else cover
    return similar


def _much_closer(word: str, similar: str | None, cover: str) -> bool:
    """A typo inside a long name (``metrics_form_output``) is nearer the name it
    misspells (``metrics_from_output``) than the short name it happens to start
    with (``metrics``): the similar one wins when it is close and clearly closer."""
    if similar is None or similar == cover:
        return False
    near, far = _ratio(word, similar), _ratio(word, cover)
    return near >= MUCH_CLOSER_MIN and near - far >= MUCH_CLOSER_BY


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b.lower()).ratio()


def hint(
    word: str, candidates: Iterable[str], fmt: str = "did you mean {!r}?", cutoff: float = 0.6
) -> str | None:
    """``fmt`` filled with the closest candidate, or None when nothing is close."""
    found = closest(word, candidates, cutoff)
    return fmt.format(found) if found is not None else None
