"""Configuration without debt: params composed from config groups (Hydra), `--from`,
a params schema, and group options as a sweep's search space. Real repositories,
the real CLI, and Hydra/OmegaConf themselves as the oracle for composition."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_support import compose_repo, gitexp, ok, omegaconf_compose
from conftest import git, write_files
from run_support import exp_refs, run_json, show

SCHEMA = {
    "type": "object",
    "required": ["epochs", "optimizer"],
    "properties": {
        "epochs": {"type": "integer", "minimum": 1},
        "optimizer": {
            "type": "object",
            "properties": {"lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}},
        },
    },
}
PYDANTIC = """\
from pydantic import BaseModel, Field


class Optimizer(BaseModel):
    name: str
    lr: float = Field(gt=0, le=1)


class Params(BaseModel):
    epochs: int = Field(ge=1)
    optimizer: Optimizer
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return compose_repo(tmp_path / "repo")


def committed(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(show(root, name, "params.yaml"))
    return data


def refused(root: Path, *args: str) -> str:
    """The one error line of a refused command; nothing was recorded."""
    proc = gitexp(root, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert exp_refs(root) == {}
    return lines[0]


def test_composition_with_groups_defaults_and_interpolation(repo: Path) -> None:
    ok(repo, "run", "-n", "plain")
    assert committed(repo, "plain") == {
        "model": {"arch": "resnet", "depth": 18},
        "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 3,
        "run_name": "resnet-adam-e3",
    }
    record = run_json(repo, "plain")
    assert record["compose"]["choices"] == {"model": "resnet", "optimizer": "adam"}
    assert record["params"] == committed(repo, "plain")


def test_overrides_pick_options_and_set_keys_as_omegaconf_composes(repo: Path) -> None:
    ok(repo, "run", "-n", "vit", "-p", "model=vit", "-p", "optimizer.lr=0.001", "-p", "epochs=5")
    expected = omegaconf_compose(repo / "conf", ["model=vit", "optimizer.lr=0.001", "epochs=5"])
    assert committed(repo, "vit") == expected
    assert expected["run_name"] == "vit-adam-e5"  # the interpolation saw the overrides
    assert json.loads(show(repo, "vit", "seen.json")) == expected  # what the script read
    record = run_json(repo, "vit")
    assert record["params"] == expected
    assert record["compose"]["config"] == "conf/config.yaml"
    assert record["compose"]["choices"] == {"model": "vit", "optimizer": "adam"}
    assert record["compose"]["picks"] == {"model": "vit"}
    assert record["overrides"] == ["model=vit", "optimizer.lr=0.001", "epochs=5"]
    table = ok(repo, "show", "vit", "--format", "json").stdout
    assert json.loads(table)["params"]["model"] == {"arch": "vit", "patch": 16}


def test_a_group_the_defaults_list_lacks_is_appended(repo: Path) -> None:
    ok(repo, "run", "-n", "aug", "-p", "augment=strong", "-p", "optimizer=sgd")
    expected = omegaconf_compose(repo / "conf", ["+augment=strong", "optimizer=sgd"])
    assert committed(repo, "aug") == expected
    assert expected["augment"] == {"flips": True, "crop": 0.8}
    assert run_json(repo, "aug")["compose"]["choices"]["augment"] == "strong"


def test_the_work_tree_is_left_alone(repo: Path) -> None:
    ok(repo, "run", "-p", "model=vit")
    assert not (repo / "params.yaml").exists()
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("model=vitt", "gitexp: error: config group 'model' has no option 'vitt' "
         "(hint: did you mean `vit`?)"),
        ("model=lstm", "gitexp: error: config group 'model' has no option 'lstm' "
         "(hint: its options: resnet, vit)"),
        ("modle=vit", "gitexp: error: unknown param or config group 'modle' "
         "(hint: did you mean `model`?)"),
        ("optimizer.lrr=0.1", "gitexp: error: unknown param 'optimizer.lrr' in "
         "conf/config.yaml (hint: did you mean `optimizer.lr`?)"),
    ],
)  # fmt: skip
def test_unknown_groups_options_and_keys_get_a_did_you_mean(
    repo: Path, override: str, line: str
) -> None:
    assert refused(repo, "run", "-p", override) == line


def test_a_missing_value_is_refused(repo: Path) -> None:
    write_files(repo, {"conf/config.yaml": CONFIG_WITH_MISSING})
    line = refused(repo, "run")
    assert line == (
        "gitexp: error: param 'data.path' has no value (??? in conf/config.yaml) "
        "(hint: give it one: -p data.path=...)"
    )
    ok(repo, "run", "-n", "given", "-p", "data.path=/d")
    assert committed(repo, "given")["data"] == {"path": "/d"}


def test_a_missing_value_names_the_group_file_that_left_it(repo: Path) -> None:
    write_files(repo, {"conf/model/resnet.yaml": "arch: resnet\nweights: ???\n"})
    assert refused(repo, "run") == (
        "gitexp: error: param 'model.weights' has no value (??? in conf/model/resnet.yaml) "
        "(hint: give it one: -p model.weights=...)"
    )
    ok(repo, "run", "-n", "other", "-p", "model=vit")  # another option: nothing missing


CONFIG_WITH_MISSING = """\
defaults:
  - model: resnet
  - optimizer: adam
  - _self_
epochs: 3
data:
  path: ???
"""


@pytest.mark.parametrize(
    ("config", "line"),
    [
        ("params: {compose: conf/config.json}", "`params.compose` must be a YAML file"),
        ("params: {compse: conf/config.yaml}", "unknown key `params.compse` "
         "(hint: did you mean `params.compose`?)"),
        ("params: {compose: conf/nope.yaml}", "compose config 'conf/nope.yaml' not found"),
    ],
)  # fmt: skip
def test_configuration_mistakes(repo: Path, config: str, line: str) -> None:
    write_files(repo, {"gitexp.yaml": f"command: python train.py\n{config}\n"})
    assert line in refused(repo, "run")


def test_from_reproduces_the_params_exactly_and_records_its_origin(repo: Path) -> None:
    ok(repo, "run", "-n", "base", "-p", "model=vit", "-p", "optimizer.lr=0.001")
    # the configs move on after the base run; --from still gets base's params
    write_files(repo, {"conf/model/vit.yaml": "arch: vit\npatch: 8\n"})
    ok(repo, "run", "-n", "again", "--from", "base")
    assert show(repo, "again", "params.yaml") == show(repo, "base", "params.yaml")
    record = run_json(repo, "again")
    assert record["from"] == "base"
    assert record["from_commit"] == exp_refs(repo)["base"]
    assert record["overrides"] == []
    assert record["params"] == run_json(repo, "base")["params"]


def test_from_with_overrides_changes_only_those(repo: Path) -> None:
    ok(repo, "run", "-n", "base", "-p", "model=vit", "-p", "optimizer.lr=0.001")
    ok(repo, "run", "-n", "longer", "--from", "bas", "-p", "epochs=7")  # a prefix names it
    assert run_json(repo, "longer")["from"] == "base"
    rows = compared(repo, "base", "longer")
    assert rows == {"epochs": [3, 7], "run_name": ["vit-adam-e3", "vit-adam-e7"]}
    # a group option on top of --from: composed again from base's recipe
    ok(repo, "run", "-n", "sgd", "--from", "longer", "-p", "optimizer=sgd")
    params = committed(repo, "sgd")
    assert params == omegaconf_compose(
        repo / "conf", ["model=vit", "optimizer=sgd", "optimizer.lr=0.001", "epochs=7"]
    )
    assert run_json(repo, "sgd")["compose"]["choices"] == {"model": "vit", "optimizer": "sgd"}


def compared(root: Path, a: str, b: str) -> dict[str, list[Any]]:
    """Params rows of `compare A B --only-changed`: key → values."""
    out = ok(root, "compare", a, b, "--only-changed", "--format", "json").stdout
    return {row["key"]: row["values"] for row in json.loads(out)["params"]}


def test_from_a_plain_params_file(git_repo: Path) -> None:
    ok(git_repo, "run", "-n", "base", "-p", "lr=0.5", "--", "python", "train.py")
    write_files(git_repo, {"params.yaml": "lr: 0.9\nmodel:\n  depth: 7\n"})
    ok(git_repo, "run", "-n", "same", "--from", "base", "--", "python", "train.py")
    blob = git(git_repo, "rev-parse", "refs/experiments/base:params.yaml")
    assert git(git_repo, "rev-parse", "refs/experiments/same:params.yaml") == blob
    ok(git_repo, "run", "-n", "deeper", "--from", "base", "-p", "model.depth=4",
       "--", "python", "train.py")  # fmt: skip
    assert compared(git_repo, "base", "deeper") == {"model.depth": [3, 4]}
    assert run_json(git_repo, "deeper")["from"] == "base"


def test_reproduce_composes_again_from_the_recorded_recipe(repo: Path) -> None:
    ok(repo, "run", "-n", "base", "-p", "model=vit", "-p", "optimizer=sgd", "-p", "epochs=2")
    write_files(repo, {"conf/model/vit.yaml": "arch: vit\npatch: 8\n"})  # the work tree moves on
    proc = gitexp(repo, "reproduce", "base", "--save", "-n", "rerun")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert show(repo, "rerun", "params.yaml") == show(repo, "base", "params.yaml")
    assert run_json(repo, "rerun")["compose"]["choices"] == {"model": "vit", "optimizer": "sgd"}


def test_from_an_unknown_experiment_is_refused(repo: Path) -> None:
    line = refused(repo, "run", "--from", "nope")
    assert line == "gitexp: error: no experiment named 'nope' (hint: list them with `gitexp show`)"


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("optimizer.lr=5", "gitexp: error: param 'optimizer.lr' breaks the params schema: "
         "5 is greater than the maximum of 1 (rule 'maximum' of conf/schema.json)"),
        ("epochs=many", "gitexp: error: param 'epochs' breaks the params schema: "
         "'many' is not of type 'integer' (rule 'type' of conf/schema.json)"),
        ("epochs=0", "gitexp: error: param 'epochs' breaks the params schema: "
         "0 is less than the minimum of 1 (rule 'minimum' of conf/schema.json)"),
    ],
)  # fmt: skip
def test_a_schema_violation_stops_the_run_before_a_ref_exists(
    repo: Path, override: str, line: str
) -> None:
    with_schema(repo, "conf/schema.json")
    assert refused(repo, "run", "-p", override) == line  # and no ref exists
    ok(repo, "run", "-p", "optimizer.lr=0.5")


def with_schema(root: Path, source: str, schema: dict[str, Any] | None = None) -> None:
    config = (root / "gitexp.yaml").read_text() + f"params_schema: {source}\n"
    write_files(root, {"gitexp.yaml": config, "conf/schema.json": json.dumps(schema or SCHEMA)})


def test_a_missing_required_key_is_named(repo: Path) -> None:
    with_schema(repo, "conf/schema.json", {**SCHEMA, "required": ["epochs", "batch"]})
    assert refused(repo, "run") == (
        "gitexp: error: param 'batch' breaks the params schema: missing, and required "
        "(rule 'required' of conf/schema.json)"
    )


def test_a_pydantic_model_as_the_schema(repo: Path) -> None:
    write_files(repo, {"schemas.py": PYDANTIC})
    with_schema(repo, "schemas:Params")
    assert refused(repo, "run", "-p", "optimizer.lr=5") == (
        "gitexp: error: param 'optimizer.lr' breaks the params schema: Input should be less "
        "than or equal to 1 (rule 'less_than_equal' of schemas:Params)"
    )
    assert refused(repo, "run", "-p", "epochs=0").startswith(
        "gitexp: error: param 'epochs' breaks the params schema: Input should be greater"
    )
    ok(repo, "run", "-n", "fine", "-p", "optimizer=sgd")
    assert committed(repo, "fine")["optimizer"]["name"] == "sgd"


def test_an_unloadable_schema_is_one_line(repo: Path) -> None:
    with_schema(repo, "conf/schema.json", {"type": "objekt"})
    assert "params_schema conf/schema.json is not a valid JSON Schema" in refused(repo, "run")
    with_schema(repo, "nomodule:Params")
    assert "cannot load params_schema 'nomodule:Params': ModuleNotFoundError" in refused(
        repo, "run"
    )


def sweep(root: Path, *args: str) -> Any:
    return gitexp(root, "sweep", "--sampler", "grid", "--objective", "acc:max", *args)


@pytest.mark.slow
def test_a_sweep_over_a_group_option(repo: Path) -> None:
    proc = sweep(repo, "-n", "models", "-p", "model=choice(resnet,vit)", "-p", "epochs=4")
    assert proc.returncode == 0, proc.stderr
    trials = {n: run_json(repo, n) for n in exp_refs(repo)}
    assert len(trials) == 2
    seen = set()
    for name, record in trials.items():
        option = record["compose"]["choices"]["model"]
        seen.add(option)
        assert committed(repo, name) == omegaconf_compose(
            repo / "conf", [f"model={option}", "epochs=4"]
        )
    assert seen == {"resnet", "vit"}


@pytest.mark.slow
def test_a_sweep_reports_an_invalid_trial_and_runs_the_rest(repo: Path) -> None:
    with_schema(repo, "conf/schema.json")
    proc = sweep(repo, "-n", "lrs", "-p", "optimizer.lr=choice(0.02,5.0)")
    assert proc.returncode == 0, proc.stderr
    assert "not run: param 'optimizer.lr' breaks the params schema: 5.0 is greater" in proc.stderr
    (only,) = exp_refs(repo)
    assert committed(repo, only)["optimizer"]["lr"] == 0.02


def test_a_sweep_refuses_an_unknown_group_option_before_it_starts(repo: Path) -> None:
    proc = sweep(repo, "-n", "bad", "-p", "model=choice(resnet,vitt)")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "gitexp: error: config group 'model' has no option 'vitt' (hint: did you mean `vit`?)"
    )
    assert not (repo / ".git" / "gitexp" / "sweeps" / "bad").exists()


@pytest.mark.slow
def test_a_sweep_from_an_experiment(repo: Path) -> None:
    ok(repo, "run", "-n", "base", "-p", "model=vit", "-p", "epochs=2")
    proc = sweep(repo, "-n", "tune", "--from", "base", "-p", "optimizer.lr=choice(0.02,0.03)")
    assert proc.returncode == 0, proc.stderr
    trials = [n for n in exp_refs(repo) if n.startswith("tune/")]
    assert len(trials) == 2
    for name in trials:
        params, record = committed(repo, name), run_json(repo, name)
        assert record["from"] == "base"
        assert params["model"] == {"arch": "vit", "patch": 16} and params["epochs"] == 2
        assert params["optimizer"]["lr"] in (0.02, 0.03)


def test_a_run_without_composition_imports_none_of_it(git_repo: Path) -> None:
    script = (
        "import sys\nfrom gitexp.cli.app import main\n"
        "rc = main(['run', '-q', '--', 'python', 'train.py'])\n"
        "heavy = {'hydra', 'omegaconf', 'jsonschema', 'pydantic'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy), rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=git_repo, capture_output=True, text=True, check=False
    )
    assert proc.stdout.strip().splitlines()[-1] == "[] 0", proc.stdout + proc.stderr
