"""Params files and -p overrides: unit tests of gitexp.paramfiles, then the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import last_line, make_repo, run_gitexp, write_files
from hypothesis import given
from hypothesis import strategies as st
from run_support import exp_refs, run_json, show

from gitexp.common.errors import ParamError
from gitexp.running import params as P

BASE = {"lr": 0.1, "model": {"depth": 3, "act": "relu"}, "layers": [8, 4]}


def apply(*overrides: str, files: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    files = files if files is not None else {"params.yaml": BASE}
    parsed = [P.parse_override(o) for o in overrides]
    return P.apply_overrides(files, parsed, "params.yaml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("lr=0.01", 0.01),
        ("lr=1e-3", 1e-3),
        ("lr=-2E+5", -2e5),
        ("lr=.5e1", 5.0),
        ("lr=3", 3),
        ("lr=true", True),
        ("lr=off", False),
        ("lr=null", None),
        ("lr=adam", "adam"),
        ("lr='0.1'", "0.1"),
        ("lr=''", ""),
        ("lr=[64, 32]", [64, 32]),
        ("lr={a: 1}", {"a": 1}),
        ("lr=a=b", "a=b"),
        ("lr=*.txt", "*.txt"),  # not valid YAML: kept as text
        ("lr=http://host:80/x", "http://host:80/x"),
    ],
)
def test_values_are_yaml(text: str, value: Any) -> None:
    unset = {"params.yaml": {"lr": None}}  # null takes a value of any kind
    assert apply(text, files=unset)["params.yaml"]["lr"] == value


def test_dot_keys_set_nested_values_and_leave_the_rest() -> None:
    out = apply("model.depth=6")["params.yaml"]
    assert out == {"lr": 0.1, "model": {"depth": 6, "act": "relu"}, "layers": [8, 4]}
    assert BASE["model"]["depth"] == 3  # inputs untouched


def test_lists_replace_lists() -> None:
    assert apply("layers=[64,32,16]")["params.yaml"]["layers"] == [64, 32, 16]


def test_plus_adds_new_keys_even_nested() -> None:
    out = apply("+wd=0.01", "+opt.beta.one=0.9", "+model.dropout=0.5")["params.yaml"]
    assert out["wd"] == 0.01
    assert out["opt"] == {"beta": {"one": 0.9}}
    assert out["model"] == {"depth": 3, "act": "relu", "dropout": 0.5}


def test_plus_on_existing_key_just_sets_it() -> None:
    assert apply("+lr=0.5")["params.yaml"]["lr"] == 0.5


def test_file_prefix_targets_that_file() -> None:
    files = {"params.yaml": {"lr": 0.1}, "conf/train.json": {"batch": 32}}
    out = apply("conf/train.json:batch=64", "lr=0.2", files=files)
    assert out == {"params.yaml": {"lr": 0.2}, "conf/train.json": {"batch": 64}}


@pytest.mark.parametrize(
    ("override", "message", "hint"),
    [
        ("lrr=1", "unknown param 'lrr' in params.yaml", "did you mean `lr`?"),
        ("model.dpth=1", "unknown param 'model.dpth' in params.yaml", "`model.depth`"),
        ("zzz=1", "unknown param 'zzz'", "use -p +zzz=... to add a new key"),
        ("mdl.depth=1", "unknown param 'mdl'", "`model.depth`"),
        ("lr.x=1", "cannot set 'lr.x' in params.yaml: 'lr' is a value", "-p lr="),
        ("LR=1", "unknown param 'LR' in params.yaml", "did you mean `lr`?"),  # case
        ("mod=1", "unknown param 'mod' in params.yaml", "did you mean `model.act`?"),  # prefix
    ],
)
def test_unknown_keys_are_refused_with_a_suggestion(override: str, message: str, hint: str) -> None:
    with pytest.raises(ParamError) as info:
        apply(override)
    assert message in str(info.value) and hint in str(info.value)
    assert info.value.exit_code == 2


def test_override_of_an_unknown_file_is_refused() -> None:
    with pytest.raises(ParamError, match=r"params file 'x\.yaml' not found"):
        apply("x.yaml:a=1")


@pytest.mark.parametrize("text", ["lr", "=1", "lr 0.1", "", "-lr=1", ".a=1", "+=1", "a b=1"])
def test_malformed_overrides(text: str) -> None:
    with pytest.raises(ParamError, match="malformed param override"):
        P.parse_override(text)


def test_merge_later_files_win_per_key() -> None:
    merged = P.merge({"a.yaml": {"x": 1, "m": {"a": 1, "b": 1}}, "b.json": {"m": {"b": 2}}})
    assert merged == {"x": 1, "m": {"a": 1, "b": 2}}


def test_dump_round_trips_yaml_and_json() -> None:
    data = {"lr": 0.1, "model": {"depth": 3}, "layers": [1, 2], "name": "ü"}
    assert yaml.safe_load(P.dump_file("p.yaml", data)) == data
    assert json.loads(P.dump_file("p.json", data)) == data
    assert list(yaml.safe_load(P.dump_file("p.yaml", {"b": 1, "a": 2}))) == ["b", "a"]


_keys = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)
_scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.text(alphabet="abcxyz _-", max_size=8),
)
_params = st.recursive(
    st.dictionaries(_keys, _scalars, max_size=4),
    lambda inner: st.dictionaries(_keys, st.one_of(_scalars, inner), max_size=3),
    max_leaves=10,
)


@given(_params, st.sampled_from(["p.yaml", "p.json"]))
def test_params_files_round_trip(data: dict[str, Any], name: str) -> None:
    assert P.parse_file(name, P.dump_file(name, data).decode()) == data


@given(_params.filter(bool), _scalars)
def test_override_then_dump_reads_back_the_value(data: dict[str, Any], value: Any) -> None:
    flat = P.flatten(data)
    key = sorted(flat)[0]
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    new = apply(f"+{key}={text}", files={"params.yaml": data})["params.yaml"]  # any kind
    back = P.flatten(P.parse_file("params.yaml", P.dump_file("params.yaml", new).decode()))
    assert back[key] == value
    assert {k: v for k, v in back.items() if k != key} == {
        k: v for k, v in flat.items() if k != key
    }


@given(_params.filter(bool), _params)
def test_round_tripped_yaml_always_reads_back_as_the_params(
    original: dict[str, Any], data: dict[str, Any]
) -> None:
    """Whatever the original file held, the experiment's copy reads back as the params
    the run was given (comments kept where ruamel can, plain YAML where it cannot)."""
    text = "# params\n" + yaml.safe_dump(original, sort_keys=False)
    assert P.parse_file("p.yaml", P.dump_file("p.yaml", data, text).decode()) == data


def test_an_overridden_yaml_file_keeps_comments_order_and_quotes() -> None:
    text = '# training\nlr: 0.1   # learning rate\nmodel:\n  depth: 3  # trees\n  kind: "rf"\n'
    data = P.parse_file("params.yaml", text)
    new = apply("model.depth=6", files={"params.yaml": data})["params.yaml"]
    assert P.dump_file("params.yaml", new, text).decode() == (
        '# training\nlr: 0.1   # learning rate\nmodel:\n  depth: 6  # trees\n  kind: "rf"\n'
    )


def test_render_command_substitutes_params() -> None:
    params = {"lr": 0.1, "model": {"depth": 3}, "flag": True, "name": "a b"}
    argv = ["python", "t.py", "--lr", "${lr}", "--depth=${model.depth}", "${flag}", "${name}"]
    assert P.render_command(argv, params, quote=False) == [
        "python", "t.py", "--lr", "0.1", "--depth=3", "true", "a b"
    ]  # fmt: skip
    assert P.render_command(["echo ${name}"], params, quote=True) == ["echo 'a b'"]
    with pytest.raises(ParamError, match=r"unknown param \$\{lrr\}.*did you mean \$\{lr\}"):
        P.render_command(["${lrr}"], params, quote=False)
    with pytest.raises(ParamError, match=r"unknown param \$\{LR\}.*did you mean \$\{lr\}"):
        P.render_command(["${LR}"], params, quote=False)
    with pytest.raises(ParamError, match=r"\$\{model\}.*did you mean \$\{model.depth\}"):
        P.render_command(["${model}"], params, quote=False)


# --- through the CLI -----------------------------------------------------------------


def test_the_runs_seed_goes_to_a_scripts_flag_and_a_seed_param_wins(tmp_path: Path) -> None:
    script = "import sys\nprint('seen:', sys.argv[2])\n"
    root = make_repo(tmp_path / "r", {"t.py": script})  # no params file at all
    proc = run_gitexp("run", "-n", "s", "--seed", "42", "--", "python", "t.py",
                      "--seed", "${seed}", cwd=root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert run_json(root, "s")["command"] == ["python", "t.py", "--seed", "42"]
    assert json.loads(show(root, "s", ".gitexp/metrics.json")) == {"seen": 42}
    write_files(root, {"params.yaml": "seed: 7\n"})
    proc = run_gitexp("run", "-n", "p", "--seed", "42", "--", "python", "t.py",
                      "--seed", "${seed}", cwd=root)  # fmt: skip
    assert run_json(root, "p")["command"][-1] == "7"  # the param of that name


def test_cli_wrong_case_suggests_the_param(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"params.yaml": "C: 1.0\ngamma: 0.1\n", "t.py": "pass\n"})
    proc = run_gitexp("run", "-p", "c=0.5", "--", "python", "t.py", cwd=root)
    assert proc.returncode == 2
    assert proc.stderr == (
        "gitexp: error: unknown param 'c' in params.yaml (hint: did you mean `C`?)\n"
    )
    assert exp_refs(root) == {}


def test_cli_overrides_reach_the_script_and_the_commit(git_repo: Path) -> None:
    write_files(git_repo, {"show.py": "import gitexp, json; print(json.dumps(gitexp.params()))"})
    proc = run_gitexp(
        "run", "-n", "p", "-p", "model.depth=6", "-p", "+layers=[64,32]", "-p", "+flag=true",
        "--", "python", "show.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = {"lr": 0.1, "model": {"depth": 6}, "layers": [64, 32], "flag": True}
    assert json.loads(proc.stdout.splitlines()[0]) == expected
    assert yaml.safe_load(show(git_repo, "p", "params.yaml")) == expected
    assert run_json(git_repo, "p")["params"] == expected
    assert (git_repo / "params.yaml").read_text() == "lr: 0.1\nmodel:\n  depth: 3\n"


def test_cli_several_params_files_yaml_and_json(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "r",
        {
            "params.yaml": "# a comment\nlr: 0.1\n",
            "conf/data.json": '{"batch": 32, "shuffle": true}\n',
            "extra.yaml": "depth: 2\n",
            "gitexp.yaml": "params: [params.yaml, conf/data.json]\n",
            "t.py": "print('ok')\n",
        },
    )
    proc = run_gitexp(
        "run", "-n", "multi", "-p", "conf/data.json:batch=64", "-p", "extra.yaml:depth=5",
        "--", "python", "t.py", cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(show(root, "multi", "conf/data.json")) == {"batch": 64, "shuffle": True}
    assert show(root, "multi", "extra.yaml") == "depth: 5\n"
    # params.yaml was not overridden: kept byte for byte, comment included
    assert show(root, "multi", "params.yaml") == "# a comment\nlr: 0.1\n"
    record = run_json(root, "multi")
    assert record["params"] == {"lr": 0.1, "batch": 64, "shuffle": True, "depth": 5}
    assert record["params_files"] == ["params.yaml", "conf/data.json", "extra.yaml"]


def test_cli_params_in_the_command(git_repo: Path) -> None:
    write_files(git_repo, {"args.py": "import sys; print(sys.argv[1:])"})
    proc = run_gitexp(
        "run", "-n", "a", "-p", "lr=0.5", "--", "python", "args.py", "--lr", "${lr}",
        "--depth=${model.depth}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['--lr', '0.5', '--depth=3']"
    assert run_json(git_repo, "a")["command"] == [
        "python", "args.py", "--lr", "0.5", "--depth=3"
    ]  # fmt: skip


def test_cli_params_in_a_configured_shell_command(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "command: 'echo lr=${lr} | tr = :'\n"})
    proc = run_gitexp("run", "-n", "s", "-p", "lr=0.3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "lr:0.3"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-p", "lrr=1"], "gitexp: error: unknown param 'lrr' in params.yaml (hint: did you "
         "mean `lr`?)"),
        (["-p", "lr"], "gitexp: error: malformed param override 'lr'"),
        (["-p", "nope.yaml:a=1"], "gitexp: error: params file 'nope.yaml' not found"),
        (["--", "python", "train.py", "${lrr}"], "gitexp: error: command refers to unknown "
         "param ${lrr}"),
    ],
)  # fmt: skip
def test_cli_param_errors_write_nothing(git_repo: Path, args: list[str], expected: str) -> None:
    if "--" not in args:
        args = [*args, "--", "python", "train.py"]
    proc = run_gitexp("run", *args)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith(expected), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert exp_refs(git_repo) == {}


def test_cli_no_params_file_is_fine_unless_configured(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"t.py": "print(1)\n"})
    assert run_gitexp("run", "-n", "n", "--", "python", "t.py", cwd=root).returncode == 0
    assert run_json(root, "n")["params"] == {}
    write_files(root, {"gitexp.yaml": "params: [hyper.yaml]\n"})
    proc = run_gitexp("run", "--", "python", "t.py", cwd=root)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: params file 'hyper.yaml' not found")
