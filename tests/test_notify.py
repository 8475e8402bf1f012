"""Notifications and hooks on run events (issue 23): webhooks and Apprise URLs to a
real HTTP receiver on 127.0.0.1, secrets from the environment that never land in git
or a log, shell hooks (stdin, variables, failing, hanging), plugins from a package
installed with pip, `experiment_pushed`, `gitexp notify test`, and the mistakes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp, write_files
from notify_support import everything_git_keeps, install_plugin, receiver
from run_support import exp_refs, run_json
from sweep_support import sweep, sweep_repo, trials

from gitexp.events.bus import EVENTS
from gitexp.events.messages import render
from gitexp.events.samples import sample
from gitexp.events.secrets import Expanded, MissingVariable

FAIL_PY = "import gitexp, sys\ngitexp.log_metric('acc', 0.25)\nsys.exit(3)\n"
BROKEN_CALLBACK = "def broken(event, payload):\n    raise RuntimeError('callback bug')\n"


def _dead_port() -> int:
    """A port of 127.0.0.1 nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- notifications to a real receiver -------------------------------------------------


def test_webhooks_hear_a_success_and_a_failure_in_readable_words(git_repo: Path) -> None:
    with receiver() as got:
        write_files(
            git_repo,
            {
                "fail.py": FAIL_PY,
                "gitexp.yaml": f"""\
                notify:
                  - webhook: {got.url(path="/all")}
                    events: [run_finished]
                    headers: {{Authorization: "Bearer ${{HOOK_TOKEN}}"}}
                  - webhook: {got.url(path="/default")}
                """,
            },
        )
        env = {"HOOK_TOKEN": "tok-8b1f0c"}
        good = run_gitexp("run", "-n", "good", "--", "python", "train.py", env=env)
        bad = run_gitexp("run", "-n", "bad", "--", "python", "fail.py", env=env)
        posts = list(got.posts)  # no waiting: gitexp sent them before it exited
    assert good.returncode == 0, good.stderr
    assert bad.returncode == 1 and "gitexp: warning" not in bad.stderr, bad.stderr
    every = [p for p in posts if p.path == "/all"]
    assert [p.body["payload"]["name"] for p in every] == ["good", "bad"]
    assert {p.headers["Authorization"] for p in every} == {"Bearer tok-8b1f0c"}
    success, failure = (p.body for p in every)
    assert success["event"] == "run_finished" and success["type"] == "success"
    assert success["title"] == "gitexp [repo]: good succeeded"
    assert success["payload"]["status"] == "succeeded"
    assert success["payload"]["metrics"]["acc"] == pytest.approx(0.53)
    head, metrics, see = success["message"].splitlines()
    assert head.startswith("good succeeded after ") and head.endswith(f" on {socket.gethostname()}")
    assert metrics == "metrics: loss=0.0333333, acc=0.53"
    assert see == "see it: gitexp show good"
    assert failure["type"] == "failure"
    assert failure["title"] == "gitexp [repo]: bad failed (exit code 3)"
    assert failure["payload"]["exit_code"] == 3 and "metrics: acc=0.25" in failure["message"]
    # the default events: a failed run_finished, never a success
    assert [p.body["payload"]["name"] for p in posts if p.path == "/default"] == ["bad"]
    assert b"tok-8b1f0c" not in everything_git_keeps(git_repo)


def test_a_sweep_notifies_each_new_best_and_its_end(tmp_path: Path) -> None:
    repo = sweep_repo(tmp_path / "repo")
    with receiver() as got:
        write_files(
            repo,
            {
                "gitexp.yaml": f"""\
                notify:
                  - webhook: {got.url()}
                    events: [sweep_new_best, sweep_finished]
                """
            },
        )
        proc = sweep(
            repo, "-n", "s", "-p", "q=int(1,3)", "--sampler", "grid", "-o", "loss:min",
            "--", sys.executable, "slow.py",
        )  # fmt: skip
        posts = list(got.posts)
    assert proc.returncode == 0, proc.stderr
    found = trials(repo, "s")  # trial number → run.json; the script's loss is q
    losses = [(rec["name"], rec["params"]["q"]) for _, rec in sorted(found.items())]
    bests, low = [], float("inf")
    for name, loss in losses:
        if loss < low:
            bests.append(name)
            low = loss
    assert [p.body["event"] for p in posts] == ["sweep_new_best"] * len(bests) + ["sweep_finished"]
    heard = [p.body for p in posts[:-1]]
    assert [b["payload"]["trial_name"] for b in heard] == bests
    last = heard[-1]
    assert last["title"] == f"gitexp [repo]: sweep s has a new best: {bests[-1]}"
    assert "loss:min = 1" in last["message"]
    assert f"see it: gitexp show {bests[-1]}" in last["message"]
    assert last["type"] == "success"
    end = posts[-1].body
    assert end["title"] == "gitexp [repo]: sweep s covered its grid" and end["type"] == "success"
    assert end["payload"]["best"] == bests[-1]
    assert end["message"].startswith("3 succeeded, 0 failed, 0 pruned in ")
    assert "see it: gitexp show s/" in end["message"]


def test_an_apprise_url_gets_its_secret_from_the_environment_and_keeps_it_out(
    git_repo: Path,
) -> None:
    pytest.importorskip("apprise")  # the notify extra (in dev)
    secret, odd = "s3cr3t-e9d2a7", "odd secret-41c7"
    with receiver() as got:
        write_files(
            git_repo,
            {
                "fail.py": FAIL_PY,
                "gitexp.yaml": f"""\
                notify:
                  - url: "json://127.0.0.1:{got.port}/apprise?+X-Token=${{SECRET}}"
                  - webhook: "http://127.0.0.1:{got.port}/bad/${{ODD_SECRET}}"
                    name: broken
                """,
            },
        )
        git(git_repo, "add", "gitexp.yaml", "fail.py")
        git(git_repo, "commit", "-q", "-m", "notify")
        env = {"SECRET": secret, "ODD_SECRET": odd}
        proc = run_gitexp("run", "-n", "leaky", "--", "python", "fail.py", env=env)
        tested = run_gitexp("notify", "test", env=env)
        posts = list(got.posts)
    assert proc.returncode == 1, proc.stderr
    assert [p.path for p in posts] == ["/apprise", "/apprise"]  # the run, then the test
    run_post, test_post = posts
    assert run_post.headers["X-Token"] == secret  # expanded when sent...
    assert run_post.body["type"] == "failure"
    assert run_post.body["title"] == "gitexp [repo]: leaky failed (exit code 3)"
    assert test_post.body["title"] == "[test] gitexp [repo]: notify-test succeeded"
    # ...and a failure quoting the URL shows the reference, never the value
    warning = next(ln for ln in proc.stderr.splitlines() if "notify broken" in ln)
    assert warning.startswith("gitexp: warning: notify broken failed on run_finished: ")
    assert "${ODD_SECRET}" in warning
    assert tested.returncode == 1
    assert tested.stdout.splitlines()[0] == "notify #1 (json): sent"
    assert tested.stdout.splitlines()[1].startswith("notify broken: failed: ")
    for value in (secret, odd, "odd%20secret", "odd+secret"):
        for text in (proc.stdout, proc.stderr, tested.stdout, tested.stderr):
            assert value not in text
        assert value.encode() not in everything_git_keeps(git_repo)
    recorded = git(git_repo, "show", "refs/experiments/leaky:gitexp.yaml")
    assert "X-Token=${SECRET}" in recorded  # the committed config keeps the reference


def test_a_slow_target_costs_the_run_only_its_time_limit(git_repo: Path) -> None:
    with receiver(delay=300) as got:
        write_files(
            git_repo,
            {"gitexp.yaml": f"notify:\n  - webhook: {got.url()}\n    events: [run_finished]\n"
             "    timeout: 1\n"},
        )  # fmt: skip
        started = time.monotonic()
        proc = run_gitexp("run", "-n", "patient", "--", "python", "train.py")
        took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert took < 90, took  # the 1 s limit, not the target's 300 s
    assert run_json(git_repo, "patient")["status"] == "succeeded"
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("gitexp: warning")]
    assert len(warnings) == 1
    assert warnings[0].startswith("gitexp: warning: notify #1 (http) failed on run_finished: ")


# --- shell hooks, callbacks, plugins -------------------------------------------------------


def test_hooks_get_the_payload_and_failing_ones_never_break_the_run(
    git_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "hooks"
    out.mkdir()
    write_files(
        git_repo,
        {
            "tools/__init__.py": "",
            "tools/hooks.py": BROKEN_CALLBACK,
            "gitexp.yaml": """\
            callbacks: ['tools.hooks:broken']
            on:
              run_started:
                run: 'sleep 600 & echo $! > "$HOOK_DIR/sleeper.pid"; wait'
                timeout: 3
              run_finished:
                - 'cat > "$HOOK_DIR/payload.json"; env | grep ^GITEXP_ | sort > "$HOOK_DIR/env"'
                - exit 3
              run_finished:failed: 'touch "$HOOK_DIR/only-on-failure"'
            """,
        },
    )
    started = time.monotonic()
    proc = run_gitexp("run", "-n", "hooked", "--", "python", "train.py", env={"HOOK_DIR": str(out)})
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert run_json(git_repo, "hooked")["status"] == "succeeded"
    assert took < 120, took  # the hanging hook was not waited for (600 s)
    payload = json.loads((out / "payload.json").read_text())
    assert payload["event"] == "run_finished" and payload["name"] == "hooked"
    assert payload["status"] == "succeeded" and payload["metrics"]["acc"] == pytest.approx(0.53)
    env = dict(line.split("=", 1) for line in (out / "env").read_text().splitlines())
    assert env["GITEXP_EVENT"] == "run_finished" and env["GITEXP_NAME"] == "hooked"
    assert env["GITEXP_STATUS"] == "succeeded" and env["GITEXP_EXIT_CODE"] == "0"
    assert env["GITEXP_REF"] == "refs/experiments/hooked"
    assert not (out / "only-on-failure").exists()
    lines = proc.stderr.splitlines()
    assert "gitexp: warning: hook `exit 3` failed on run_finished: exited with 3" in lines
    hung = [ln for ln in lines if ln.startswith("gitexp: warning: hook `sleep 600")]
    assert len(hung) == 1 and hung[0].endswith("still running after 3s; killed"), lines
    assert any(ln.startswith("gitexp: warning: callback tools.hooks:broken failed") for ln in lines)
    _assert_gone(int((out / "sleeper.pid").read_text()))  # its whole process group


def _assert_gone(pid: int) -> None:
    """Dead: no such process, or a zombie nobody reaped yet (a container's PID 1)."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(600):  # a minute: generous on a loaded machine
        try:
            os.kill(pid, 0)
            if stat.read_text().rpartition(")")[2].split()[0] in ("Z", "X"):
                return
        except (ProcessLookupError, FileNotFoundError):
            return
        time.sleep(0.1)
    raise AssertionError(f"hook process {pid} still running")


def test_plugins_from_an_installed_package_hear_the_run(git_repo: Path, tmp_path: Path) -> None:
    site = install_plugin(tmp_path)
    log = tmp_path / "plugin.jsonl"
    env = {"PYTHONPATH": str(site), "PLUGIN_LOG": str(log)}
    proc = run_gitexp("run", "-n", "plugged", "--", "python", "train.py", env=env)
    assert proc.returncode == 0, proc.stderr
    heard = [json.loads(line) for line in log.read_text().splitlines()]
    events = [e for e, _ in heard]
    assert events[0] == "run_reserved" and events[-2:] == ["run_finished", "run_recorded"]
    assert events.count("narrow:run_finished") == 1  # `events` narrowed it
    assert not any(e.startswith("narrow:") and e != "narrow:run_finished" for e in events)
    assert {p["name"] for _, p in heard} == {"plugged"}
    lines = proc.stderr.splitlines()
    assert any(
        ln.startswith("gitexp: warning: plugin broken (teamhooks:broken) failed on run_reserved")
        and "RuntimeError: plugin bug" in ln
        for ln in lines
    ), lines
    missing = [ln for ln in lines if "teamhooks:no_such_function" in ln]
    assert missing == [
        "gitexp: warning: plugin missing (teamhooks:no_such_function) cannot be loaded: "
        "AttributeError: module 'teamhooks' has no attribute 'no_such_function'"
    ]
    assert run_json(git_repo, "plugged")["status"] == "succeeded"
    before = log.read_text()
    off = run_gitexp("run", "-n", "unplugged", "--", "python", "train.py",
                     env={**env, "GITEXP_NO_PLUGINS": "1"})  # fmt: skip
    assert off.returncode == 0 and "plugin" not in off.stderr, off.stderr
    assert log.read_text() == before


def test_a_push_publishes_experiment_pushed(git_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    log = tmp_path / "pushed.jsonl"
    hook = 'cat >> "$PUSH_LOG"; echo >> "$PUSH_LOG"'
    write_files(git_repo, {"gitexp.yaml": f"on:\n  experiment_pushed: '{hook}'\n"})
    env = {"PUSH_LOG": str(log)}
    assert run_gitexp("run", "-n", "shared", "--", "python", "train.py").returncode == 0
    first = run_gitexp("push", str(remote), "shared", "--no-artifacts", env=env)
    again = run_gitexp("push", str(remote), "shared", "--no-artifacts", env=env)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    heard = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert heard == [
        {
            "event": "experiment_pushed",
            "name": "shared",
            "ref": "refs/experiments/shared",
            "commit": exp_refs(git_repo)["shared"],
            "remote": str(remote),
            "forced": False,
        }
    ]  # once: the second push had nothing to send


def test_a_reproduced_experiment_brings_no_hooks_of_its_own(git_repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "ran"
    write_files(git_repo, {"gitexp.yaml": "on:\n  run_finished: 'echo $GITEXP_NAME >> \"$RAN\"'\n"})
    git(git_repo, "add", "gitexp.yaml")
    git(git_repo, "commit", "-q", "-m", "a hook")
    env = {"RAN": str(log)}
    assert run_gitexp("run", "-n", "mine", "--", "python", "train.py", env=env).returncode == 0
    assert log.read_text().split() == ["mine"]
    write_files(git_repo, {"gitexp.yaml": "seed: random\n"})  # this machine wants no hook now
    again = run_gitexp("reproduce", "mine", env=env)
    assert again.returncode == 0, again.stderr
    assert log.read_text().split() == ["mine"]  # the recorded `on:` did not run


# --- gitexp notify test ---------------------------------------------------------------------


def test_notify_test_reports_each_target(git_repo: Path) -> None:
    dead = _dead_port()
    with receiver() as got:
        write_files(
            git_repo,
            {
                "gitexp.yaml": f"""\
                notify:
                  - webhook: {got.url()}
                  - webhook: http://127.0.0.1:{dead}/nobody
                    name: dead
                    events: [sweep_finished]
                """
            },
        )
        proc = run_gitexp("notify", "test", "--event", "sweep_finished")
        posts = list(got.posts)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "notify #1 (http): sent",
        "notify dead: failed: cannot reach it: [Errno 111] Connection refused",
    ]
    assert last_line(proc.stderr) == "gitexp: error: 1 of 2 notification target(s) failed"
    assert [p.body["event"] for p in posts] == ["sweep_finished"]
    assert posts[0].body["title"] == "[test] gitexp [repo]: sweep notify-test-sweep completed"


def test_notify_test_mistakes(git_repo: Path) -> None:
    none = run_gitexp("notify", "test")
    assert none.returncode == 2  # a configuration to fix, not a failure to retry
    assert last_line(none.stderr).startswith(
        "gitexp: error: gitexp.yaml has no `notify:` entries to test"
    )
    write_files(git_repo, {"gitexp.yaml": "notify: ['json://127.0.0.1:9/x']\n"})
    typo = run_gitexp("notify", "test", "--event", "run_finishd")
    assert typo.returncode == 2
    assert last_line(typo.stderr) == (
        "gitexp: error: unknown event 'run_finishd' (hint: did you mean `run_finished`?)"
    )


# --- mistakes in gitexp.yaml ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("notify:\n  - webhook: http://x/\n    events: [run_finishd]\n",
         "`notify` entry 1 `events`: unknown event `run_finishd` "
         "(hint: did you mean `run_finished`?)"),
        ("notify:\n  - url: json://x\n    events: ['run_finished:faild']\n",
         "`notify` entry 1 `events`: `run_finished` has no status `faild` "
         "(hint: did you mean `failed`?)"),
        ("notify:\n  - url: json://x\n    events: ['run_started:failed']\n",
         "`notify` entry 1 `events`: `run_started` has no status to match (hint: statuses go "
         "with run_finished, run_recorded, trial_finished, sweep_finished)"),
        ("notify:\n  - urll: json://x\n", "`notify` entry 1: unknown key `urll` "
         "(hint: did you mean `url`?)"),
        ("notify:\n  - webhook: ftp://x/\n", "`notify` entry 1: a `webhook` is an http:// or "
         "https:// URL"),
        ("notify:\n  - slack\n", "`notify` entry 1: `url` must be a URL such as "
         "scheme://host/... (hint: an Apprise URL: https://github.com/caronc/apprise/wiki)"),
        ("notify:\n  - url: 'json://x/${TOKEN'\n", "`notify` entry 1: bad reference '${TOKEN' "
         "(hint: write ${NAME} with a variable name of letters, digits and _)"),
        ("notify:\n  - url: json://x\n    headers: {A: b}\n", "`notify` entry 1: `headers` go "
         "with a `webhook` (hint: Apprise's json:// takes headers in the URL: "
         "json://host/path?+X-Token=${TOKEN})"),
        ("notify:\n  - webhook: http://x/\n    timeout: 0\n", "`notify` entry 1: `timeout` "
         "must be seconds (0 to 600), got 0"),
        ("on: echo hi\n", "`on` must map events to commands, e.g. run_finished: ./x"),
        ("on:\n  metric_loged: echo\n", "`on` metric_loged: unknown event `metric_loged` "
         "(hint: did you mean `metric_logged`?)"),
        ("on:\n  run_started: {run: x, timeout: -1}\n", "`on` run_started: `timeout` must be "
         "seconds (0 to 3600), got -1"),
        ("on:\n  run_started: [3]\n", "`on` run_started: a hook is a command or "
         "{run: COMMAND, timeout: SECONDS}"),
    ],
)  # fmt: skip
def test_a_bad_notify_or_on_entry_is_one_line_before_the_run(
    git_repo: Path, text: str, message: str
) -> None:
    write_files(git_repo, {"gitexp.yaml": text})
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr) == f"gitexp: error: gitexp.yaml: {message}"
    assert exp_refs(git_repo) == {}


# --- cost, messages, secrets ---------------------------------------------------------


def test_without_notify_or_hooks_nothing_is_imported_and_no_thread_starts(git_repo: Path) -> None:
    code = (
        "import json, sys, threading\n"
        "from gitexp.cli.app import main\n"
        "assert main(['run', '-q', '-n', sys.argv[1], '--', sys.executable, 'train.py']) == 0\n"
        "mods = sorted(m for m in sys.modules if m.startswith(('gitexp.events.notify',"
        " 'gitexp.events.shellhooks', 'gitexp.events.dispatch', 'gitexp.events.senders',"
        " 'apprise')))\n"
        "threads = [t.name for t in threading.enumerate() if t.name.startswith('gitexp-deliver')]\n"
        "print(json.dumps([mods, threads]))\n"
    )

    def loaded(name: str) -> list[list[str]]:
        proc = subprocess.run(
            [sys.executable, "-c", code, name], capture_output=True, text=True, check=True
        )
        return list(json.loads(proc.stdout.strip().splitlines()[-1]))

    assert loaded("bare") == [[], []]
    # configured, but no event matched: the modules, still no Apprise and no thread
    write_files(git_repo, {"gitexp.yaml": "notify: ['json://127.0.0.1:9/x']\n"})
    mods, threads = loaded("quiet")
    assert "gitexp.events.notify" in mods and "apprise" not in mods and threads == []


def test_every_event_has_a_readable_message() -> None:
    for event in EVENTS:
        message = render(event, sample(event), "proj")
        assert message.title.startswith("gitexp [proj]: "), event
        assert "None" not in message.title + message.body, (event, message)
        assert message.kind in {"success", "failure", "warning", "info"}
    finished = render("sweep_finished", sample("sweep_finished"), "proj")
    assert finished.body.splitlines() == [
        "18 succeeded, 1 failed, 1 pruned in 1h 02m",
        "best: notify-test-sweep/trial-0003 (0.91)",
        "see it: gitexp show notify-test-sweep/",
    ]
    promoted = render("model_promoted", sample("model_promoted"), "proj")
    assert promoted.title == "gitexp [proj]: model demo-model v1.0.0 promoted to prod"


def test_expansion_is_at_use_and_scrubbing_takes_every_form_back() -> None:
    found = Expanded(env={"TOKEN": "a b/c", "EMPTY": ""})
    assert found.expand("x://${TOKEN}@h/$${LITERAL}${EMPTY}") == "x://a b/c@h/${LITERAL}"
    said = "failed for x://a b/c, a%20b%2Fc and a+b%2Fc"
    assert found.scrub(said) == "failed for x://${TOKEN}, ${TOKEN} and ${TOKEN}"
    with pytest.raises(MissingVariable, match=r"^\$\{NOPE\} is not set in the environment$"):
        Expanded(env={}).expand("${NOPE}")
