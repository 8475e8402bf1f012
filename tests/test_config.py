"""gitexp.yaml: defaults, every key, the file `gitexp init` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp, write_files
from run_support import run_json, show

from gitexp.common.errors import ConfigError
from gitexp.config.initfile import write_default_config
from gitexp.config.settings import (
    DEFAULT_OUTPUT_PATTERNS,
    KNOWN_KEYS,
    Config,
    command_argv,
    load_config,
)

CORE_KEYS = {
    "command",
    "params",
    "metrics",
    "metrics_from_output",
    "seed",
    "link",
    "outputs",
    "executor",
    "log_max_bytes",
    "run_root",
}


def test_no_file_and_empty_file_mean_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()
    (tmp_path / "gitexp.yaml").write_text("# nothing yet\n")
    assert load_config(tmp_path) == Config()
    defaults = Config()
    assert defaults.params_files == ("params.yaml",) and not defaults.params_explicit
    assert defaults.output_patterns == DEFAULT_OUTPUT_PATTERNS and defaults.seed is None
    assert defaults.executor == "local" and defaults.log_max_bytes == 1_000_000


def test_every_core_key(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "gitexp.yaml": """\
                command: [python, train.py, --fast]
                params: [params.yaml, conf/model.json]
                metrics: metrics.json
                metrics_from_output: true
                seed: 1234
                link: [data/, models/pretrained]
                outputs: ["*.pkl", reports/]
                executor: local
                log_max_bytes: 5000
                run_root: /tmp/gitexp-runs
                docker: {base_image: "python:3.11"}
                """
        },
    )
    config = load_config(tmp_path)
    assert config == Config(
        command=("python", "train.py", "--fast"),
        params_files=("params.yaml", "conf/model.json"),
        params_explicit=True,
        metrics_files=("metrics.json",),
        output_patterns=DEFAULT_OUTPUT_PATTERNS,
        seed=1234,
        links=("data", "models/pretrained"),
        outputs=("*.pkl", "reports/"),
        executor="local",
        log_max_bytes=5000,
        run_root="/tmp/gitexp-runs",
        sections={"docker": {"base_image": "python:3.11"}},
    )
    assert CORE_KEYS <= KNOWN_KEYS


def test_params_empty_list_is_the_default(tmp_path: Path) -> None:
    (tmp_path / "gitexp.yaml").write_text("params: []\n")
    config = load_config(tmp_path)
    assert config.params_files == ("params.yaml",) and not config.params_explicit


@pytest.mark.parametrize(
    ("command", "argv", "shell"),
    [
        ("python train.py --lr 0.1", ["python", "train.py", "--lr", "0.1"], False),
        ("python 'my script.py'", ["python", "my script.py"], False),
        ("python a.py && python b.py", ["/bin/sh", "-c", "python a.py && python b.py"], True),
        ("python a.py > out.txt", ["/bin/sh", "-c", "python a.py > out.txt"], True),
        ("echo $(date)", ["/bin/sh", "-c", "echo $(date)"], True),
        (("python", "a b.py", "&&"), ["python", "a b.py", "&&"], False),  # a list: never a shell
    ],
)
def test_command_strings_and_lists(
    command: str | tuple[str, ...], argv: list[str], shell: bool
) -> None:
    assert command_argv(command) == (argv, shell)


def test_init_file_is_valid_and_documents_every_core_key(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"params.yaml": "lr: 1\n"})
    text = write_default_config(root, None).read_text()
    for key in CORE_KEYS - {"executor", "log_max_bytes", "run_root"}:
        assert f"\n{key}:" in text, key
    config = load_config(root)
    assert config.command is None  # no training script in the repository: no guess
    assert config.params_files == ("params.yaml",) and config.params_explicit
    assert config.seed is None and config.output_patterns == DEFAULT_OUTPUT_PATTERNS


def test_init_detects_the_script_and_the_metrics_file_it_writes(tmp_path: Path) -> None:
    train = (
        "import json\nprint('accuracy: 0.95')\n"
        "json.dump({'f1': 0.8}, open('eval/metrics.json', 'w'))\n"
    )
    root = make_repo(tmp_path / "r", {"train.py": "import os\nos.makedirs('eval')\n" + train})
    proc = run_gitexp("init", "--no-hooks", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "command: python train.py (found train.py)" in proc.stderr
    assert "metrics: eval/metrics.json (named in train.py)" in proc.stderr
    config = load_config(root)
    assert config.command == "python train.py"
    assert config.metrics_files == ("eval/metrics.json",)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "gitexp")
    ran = run_gitexp("run", "-n", "first", cwd=root)
    assert ran.returncode == 0, ran.stderr
    assert "gitexp: first succeeded" in ran.stderr and "accuracy=0.95" in ran.stderr
    assert "f1=0.8" in ran.stderr


def test_init_links_an_ignored_data_folder_the_script_reads(tmp_path: Path) -> None:
    """Not an ignored output folder (a link writes through to the work tree), nor a
    tracked one: only ignored inputs, which a run can get no other way."""
    train = (
        "import os\nrows = open('data/train.csv').read()\nos.makedirs('models', exist_ok=True)\n"
        "open('models/model.bin', 'w').write(rows)\nprint('rows: 1')\n"
    )
    root = make_repo(tmp_path / "r", {"train.py": train, ".gitignore": "data/\nmodels/\n"})
    write_files(root, {"data/train.csv": "a,b\n", "models/.keep": ""})
    proc = run_gitexp("init", "--no-hooks", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "link: data/ (ignored by git, read by train.py)" in proc.stderr
    assert "models" not in proc.stderr
    assert load_config(root).links == ("data",)
    ran = run_gitexp("run", "-n", "first", cwd=root)  # gitexp.yaml untracked: still read
    assert ran.returncode == 0, ran.stderr


def test_init_without_a_script_writes_no_command(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"notes.md": "x\n"})
    proc = run_gitexp("init", "--no-hooks", cwd=root)
    assert "command: none found" in proc.stderr
    assert load_config(root).command is None
    assert "\ncommand: null " in (root / "gitexp.yaml").read_text()
    ran = run_gitexp("run", cwd=root)
    assert ran.returncode == 2
    assert last_line(ran.stderr).startswith("gitexp: error: no command given and none configured")


def test_init_without_params_yaml_gives_a_config_that_runs(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"t.py": "print('ran')\n"})
    assert run_gitexp("init", "-c", "python t.py", cwd=root).returncode == 0
    proc = run_gitexp("run", "-n", "x", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "ran" in proc.stdout


@pytest.mark.parametrize(
    "command", ["python t.py --lr ${lr}", "echo a: b", "python t.py # note", "'quoted'"]
)
def test_init_quotes_commands_yaml_would_misread(tmp_path: Path, command: str) -> None:
    root = make_repo(tmp_path / "r", {"params.yaml": "lr: 1\n"})
    assert run_gitexp("init", "-c", command, cwd=root).returncode == 0
    assert load_config(root).command == command


def test_config_is_read_from_the_work_tree_not_head(git_repo: Path) -> None:
    """An uncommitted gitexp.yaml edit applies, and is recorded with the run."""
    write_files(git_repo, {"gitexp.yaml": "command: python train.py\nseed: 99\n"})
    assert run_gitexp("run", "-n", "c").returncode == 0
    assert run_json(git_repo, "c")["seed"] == 99
    assert "seed: 99" in show(git_repo, "c", "gitexp.yaml")


def test_run_root_puts_run_dirs_there(git_repo: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_files(
        git_repo,
        {
            "gitexp.yaml": f"run_root: {runs}\n",
            "where.py": "import os; print(os.environ['GITEXP_RUN_DIR'])\n",
        },
    )
    proc = run_gitexp("run", "-n", "rr", "--keep-run-dir", "--", "python", "where.py")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).parent == runs
    assert Path(proc.stdout.strip()).name.startswith("gitexp-rr-")


def test_run_root_from_environment(git_repo: Path, tmp_path: Path) -> None:
    write_files(git_repo, {"where.py": "import os; print(os.environ['GITEXP_RUN_DIR'])\n"})
    proc = run_gitexp(
        "run", "--keep-run-dir", "--", "python", "where.py",
        env={"GITEXP_RUN_ROOT": str(tmp_path / "envroot")},
    )  # fmt: skip
    assert Path(proc.stdout.strip()).parent == tmp_path / "envroot"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed: -1\n", "`seed` must be a non-negative integer or `random`"),
        ("outputs: {a: 1}\n", "`outputs` must be a path or a list of paths"),
        ("run_root: [a]\n", "`run_root` must be a path"),
        ("log_max_bytes: 0\n", "`log_max_bytes` must be a positive integer"),
        ("paramz: []\n", "unknown key `paramz`"),
        ("42\n", "top level must be a mapping"),
    ],
)
def test_invalid_values(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "gitexp.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("`", ".").replace("[", ".")):
        load_config(tmp_path)


def test_init_takes_the_only_script_of_the_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"plot_ols.py": "print('Mean squared error: 2548.07')\n"})
    proc = run_gitexp("init", "--no-hooks", cwd=root)
    assert "command: python plot_ols.py (found plot_ols.py)" in proc.stderr
    assert load_config(root).command == "python plot_ols.py"
