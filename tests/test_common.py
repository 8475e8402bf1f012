"""The generic helpers at the bottom of the package, and the layering they allow:
one rule for "under a prefix", for dotted names, for a JSON record in a tree,
for the seed range; and no layer importing one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs

import gitexp
from gitexp.common.layout import MAX_SEED, METRICS_JSON, RUN_JSON
from gitexp.common.mappings import deep_merge, flatten, unflatten
from gitexp.common.paths import is_under, under_any
from gitexp.gitstore.repo import MISSING_OBJECT, open_repo
from gitexp.gitstore.trees import blobs, read_json

PACKAGE = Path(gitexp.__file__).parent
# layer -> gitexp packages it may import (besides itself); DESIGN.md "Layers"
ALLOWED = {
    "common": set(),
    "gitstore": {"common"},
    "dvcstore": {"common", "config", "gitstore"},
    "exploring": {"common", "tracking", "config", "gitstore", "dvcstore", "running"},
    "views": {"common", "config", "gitstore", "exploring"},
}


def test_is_under_means_the_prefix_itself_or_inside_it() -> None:
    assert is_under("data", "data") and is_under("data/x/y.csv", "data")
    assert is_under("data/x", "data/") and is_under("a/b", "a/b/")
    assert not is_under("data2", "data") and not is_under("dat", "data")
    assert not is_under("x/data", "data")
    assert under_any(".gitexp/run.json", [".dvc", ".gitexp"])
    assert not under_any("src/.gitexp", [".gitexp"]) and not under_any("a", [])


def test_dotted_names_round_trip_and_merges_leave_their_inputs_alone() -> None:
    nested = {"model": {"depth": 3, "act": "relu"}, "lr": 0.1, "tags": ["a"], "empty": {}}
    flat = flatten(nested)
    assert flat == {"model.depth": 3, "model.act": "relu", "lr": 0.1, "tags": ["a"], "empty": {}}
    assert unflatten(flat) == nested
    assert unflatten({"a": 1, "a.b": 2}) == {"a": 1, "a.b": 2}  # both a value and a prefix
    first, second = {"m": {"a": 1, "b": 1}}, {"m": {"b": 2}, "x": [1]}
    merged = deep_merge([first, second])
    assert merged == {"m": {"a": 1, "b": 2}, "x": [1]}
    merged["m"]["a"] = 9
    merged["x"].append(2)
    assert first == {"m": {"a": 1, "b": 1}} and second == {"m": {"b": 2}, "x": [1]}


def _tree_with(root: Path, files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """A tree written by real git (`update-index` + `write-tree`) and its blob ids."""
    ids = {}
    for path, data in files.items():
        (root / "blob").write_bytes(data)
        ids[path] = git(root, "hash-object", "-w", "blob").strip()
        git(root, "update-index", "--add", "--cacheinfo", f"100644,{ids[path]},{path}")
    return git(root, "write-tree").strip(), ids


def test_read_json_gives_the_object_or_empty_and_a_lost_blob_raises(git_repo: Path) -> None:
    tree, ids = _tree_with(
        git_repo,
        {RUN_JSON: b'{"status": "succeeded"}', METRICS_JSON: b"[1, 2]", "bad.json": b"{"},
    )
    repo = open_repo(git_repo)
    oid = repo.git[tree].id
    assert read_json(repo, oid, RUN_JSON) == {"status": "succeeded"}
    assert read_json(repo, repo.git[oid], RUN_JSON) == {"status": "succeeded"}  # a Tree too
    assert read_json(repo, oid, METRICS_JSON) == {}  # JSON, but not an object
    assert read_json(repo, oid, "bad.json") == {} and read_json(repo, oid, "absent.json") == {}
    assert read_json(repo, None, RUN_JSON) == {}
    blob = ids[RUN_JSON]
    (git_repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # as `gc --prune=now` would
    repo = open_repo(git_repo)
    with pytest.raises(MISSING_OBJECT):
        read_json(repo, oid, RUN_JSON)  # the summary cache turns this into `broken`
    assert read_json(repo, oid, RUN_JSON, lost_ok=True) == {}


def test_blobs_lists_every_file_of_a_tree_with_its_mode(git_repo: Path) -> None:
    repo = open_repo(git_repo)
    found = {path: mode for path, _, mode in blobs(repo, repo.head_commit().tree_id)}
    assert found == {"params.yaml": 0o100644, "train.py": 0o100644, ".gitignore": 0o100644}


@pytest.mark.parametrize("where", ["--seed", "gitexp.yaml"])
def test_a_seed_above_max_seed_is_refused_before_anything_runs(git_repo: Path, where: str) -> None:
    too_big = MAX_SEED + 1
    if where == "gitexp.yaml":
        write_files(git_repo, {"gitexp.yaml": f"seed: {too_big}\n"})
        proc = run_gitexp("run", "--", "python", "train.py", cwd=git_repo)
        expected = (
            f"gitexp: error: gitexp.yaml: `seed` {too_big} is above {MAX_SEED}, "
            "the largest seed NumPy and PYTHONHASHSEED take"
        )
    else:
        proc = run_gitexp("run", "--seed", str(too_big), "--", "python", "train.py", cwd=git_repo)
        expected = f"gitexp: error: Invalid value for '--seed': {too_big} is not in the range"
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc.stderr).startswith(expected), proc.stderr
    assert exp_refs(git_repo) == {}


def test_the_largest_seed_reaches_the_script_and_python_starts(git_repo: Path) -> None:
    write_files(
        git_repo, {"seed.py": "import os\nprint('hash seed', os.environ['PYTHONHASHSEED'])\n"}
    )
    proc = run_gitexp("run", "--seed", str(MAX_SEED), "--", "python", "seed.py", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert f"hash seed {MAX_SEED}" in proc.stdout


def _gitexp_imports(path: Path) -> set[str]:
    """The gitexp layers a module imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        found |= {n.split(".")[1] for n in names if n.startswith("gitexp.") and "." in n}
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)} imports gitexp.{name}"
        for path in (PACKAGE / layer).rglob("*.py")
        for name in _gitexp_imports(path) - ALLOWED[layer] - {layer}
    }
    assert not wrong, sorted(wrong)


def test_typer_stays_in_the_cli() -> None:
    wrong = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts
        and any(
            isinstance(n, ast.Import | ast.ImportFrom)
            and any("typer" in (getattr(n, "module", None) or a.name) for a in n.names)
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    ]
    assert not wrong, wrong
