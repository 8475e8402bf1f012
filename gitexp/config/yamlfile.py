"""YAML as gitexp reads a user's file: PyYAML's safe loader, plus the keys given twice.

PyYAML keeps the last of two equal keys in a mapping without a word (YAML 1.2
calls it an error, ruamel.yaml refuses it, PyYAML and most tools take the
last), so ``lr: 0.1`` on line 3 and ``lr: 0.3`` on line 9 runs with 0.3
while a reader of the file's top sees 0.1. ``load`` returns the data PyYAML
gives, unchanged, and each repeated key with its line, so the caller can say
so. Keys merged in with ``<<: *anchor`` and then set again are an override,
not a repeat. One parse: the tree is checked, then built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BOM = "\ufeff"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Repeated:
    """A key given twice in one mapping: the dotted path and the 1-based line of the
    later one (whose value is used)."""

    key: str
    line: int


def load(text: str) -> tuple[Any, list[Repeated]]:
    """(what ``yaml.safe_load(text)`` returns, the keys given twice); raises
    ``yaml.YAMLError`` as safe_load does."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        repeated = _repeated(node, "", set())
        return loader.construct_document(node), repeated
    finally:
        loader.dispose()


def _repeated(node: Node, path: str, seen: set[int]) -> list[Repeated]:
    """Repeated keys in ``node`` and below (each node once: anchors are shared)."""
    if id(node) in seen:
        return []
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        items = [(f"{path}[{i}]", child) for i, child in enumerate(node.value)]
        return [r for sub, child in items for r in _repeated(child, sub, seen)]
    if not isinstance(node, MappingNode):
        return []
    out: list[Repeated] = []
    keys: set[tuple[str, str]] = set()
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE:
            continue
        sub = f"{path}.{key.value}" if path else str(key.value)
        if (key.tag, key.value) in keys:
            out.append(Repeated(sub, key.start_mark.line + 1))
        keys.add((key.tag, key.value))
        out += _repeated(value, sub, seen)
    return out
