"""`gitexp ui` without a browser: the read-model additions it needs, every endpoint of
its JSON API and every page (FastAPI's TestClient over a real repository made with
the real CLI), its security rules, and the real server started as a user starts it
(live events, the token off loopback, Ctrl-C)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, run_gitexp
from fastapi.testclient import TestClient
from ui_support import (
    INJECTED,
    INJECTED_REF,
    serve,
    start_slow_run,
    ui_study,
    ui_template,
    wait_for,
)

from gitexp.exploring.listing import ExperimentTable, PageQuery
from gitexp.exploring.live import LiveSeries, live_metrics_file
from gitexp.exploring.overrides import is_overridden, overridden_keys
from gitexp.exploring.refstamp import RefStamp
from gitexp.exploring.series import thin
from gitexp.exploring.treefiles import check_path, output_log, read_file
from gitexp.gitstore.repo import open_repo
from gitexp.web.app import create_app
from gitexp.web.security import CSP

__all__ = ["ui_study", "ui_template"]
LOCAL = "http://127.0.0.1"


@pytest.fixture
def client(ui_study: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ui_study), base_url=LOCAL) as found:
        yield found


def ok(client: TestClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


# --- the read model's additions -----------------------------------------------------


def test_table_pages_filters_sorts_and_searches_like_show(ui_study: Path) -> None:
    repo, table = open_repo(ui_study), ExperimentTable()
    page = table.page(repo, PageQuery(filters=("lr>=0.2",), sort_by="lr", descending=True))
    assert [r["name"] for r in page.rows] == ["gamma", "beta"]
    assert page.total == 2 and page.count == 8  # 5 runs, the injected ref, 2 sweeps folded
    assert "metrics.val/acc" in page.columns and "params.model.depth" in page.columns
    second = table.page(repo, PageQuery(sort_by="name", offset=2, limit=2, trials=True))
    everything = sorted(s.name for s in table.summaries(repo))
    assert second.count == len(everything) == 14  # and 8 trials
    assert [r["name"] for r in second.rows] == everything[2:4]
    found = table.page(repo, PageQuery(search="DUO/", trials=True))
    assert {r["name"] for r in found.rows} == {f"duo/trial-000{i}" for i in range(4)}
    assert [r["name"] for r in table.page(repo, PageQuery(search="DUO/")).rows] == ["duo/"]


def test_table_follows_refs_that_change_behind_it(ui_study: Path) -> None:
    repo, table = open_repo(ui_study), ExperimentTable()
    assert table.page(repo, PageQuery(search="alpha")).total == 1
    git(ui_study, "update-ref", "-d", "refs/experiments/alpha")
    beta = git(ui_study, "rev-parse", "refs/experiments/beta").strip()
    git(ui_study, "update-ref", "refs/experiments/beta-copy", beta)
    names = [r["name"] for r in table.page(repo, PageQuery(search="a")).rows]
    assert "alpha" not in names and "beta-copy" in names


def test_the_refs_stamp_changes_with_every_ref_change(ui_study: Path) -> None:
    stamps = RefStamp(open_repo(ui_study))
    beta = git(ui_study, "rev-parse", "refs/experiments/beta").strip()
    gamma = git(ui_study, "rev-parse", "refs/experiments/gamma").strip()
    changes = [
        ["update-ref", "refs/experiments/new", beta],  # created
        ["update-ref", "refs/experiments/new", gamma],  # moved
        ["update-ref", "refs/experiments/sw/trial-0001", beta],  # moved, in a folder
        ["update-ref", "refs/experiments/grp/one", beta],  # a new folder
        ["update-ref", "-d", "refs/experiments/new"],  # deleted
        ["pack-refs", "--all"],  # loose refs packed
        ["update-ref", "-d", "refs/experiments/alpha"],  # deleted from packed-refs
        ["update-ref", "refs/experiments/grp/one", gamma],  # moved, packed before
    ]
    before = stamps.stamp()
    assert stamps.stamp() == before  # nothing changed
    for args in changes:
        git(ui_study, *args)
        after = stamps.stamp()
        assert after != before, args
        before = after


def test_table_refuses_a_bad_filter_and_a_bad_page(ui_study: Path) -> None:
    from gitexp.common.errors import UsageError

    repo, table = open_repo(ui_study), ExperimentTable()
    with pytest.raises(UsageError, match="unknown column 'nope'"):
        table.page(repo, PageQuery(filters=("nope>1",)))
    with pytest.raises(UsageError, match="bad filter"):
        table.page(repo, PageQuery(filters=("lr",)))
    with pytest.raises(UsageError, match="a page is"):
        table.page(repo, PageQuery(limit=0))


def test_tree_files_are_read_from_the_commit_and_paths_are_checked(ui_study: Path) -> None:
    from gitexp.common.errors import UsageError
    from gitexp.exploring.treefiles import NoSuchFileError

    repo = open_repo(ui_study)
    commit = git(ui_study, "rev-parse", "refs/experiments/beta").strip()
    assert b"lr: 0.2" in read_file(repo, commit, "params.yaml").data
    assert read_file(repo, commit, "params.yaml", limit=4).truncated
    log = output_log(repo, commit)
    assert log is not None and "trained 0.2" in log.text
    for bad in ("../params.yaml", "/etc/passwd", "a//b", "./x", "a\\b", ""):
        with pytest.raises(UsageError, match="bad file path"):
            check_path(bad)
    with pytest.raises(NoSuchFileError):
        read_file(repo, commit, "nothing/here.txt")
    with pytest.raises(NoSuchFileError, match="folder"):
        read_file(repo, commit, ".gitexp")


def test_overrides_name_their_keys_in_every_written_form() -> None:
    run = {"overrides": ["lr=0.1", "other.yaml:model.depth=6", "+note=a=b", 'opt={"a": 1}']}
    assert overridden_keys(run) == ["lr", "model.depth", "note", "opt"]
    keys = overridden_keys(run)
    assert is_overridden("opt.a", keys) and is_overridden("lr", keys)
    assert not is_overridden("lrs", keys) and not is_overridden("model", keys)
    assert overridden_keys({}) == [] and overridden_keys({"overrides": "x=1"}) == []


def test_thin_keeps_the_ends_and_the_extremes() -> None:
    points = [(i, float((i * 7919) % 1000), 0.0) for i in range(100_000)]
    points[54_321] = (54_321, -5.0, 0.0)
    kept = thin(points, 500)
    assert len(kept) <= 502 and kept[0] == points[0] and kept[-1] == points[-1]
    assert (54_321, -5.0, 0.0) in kept and max(p[1] for p in kept) == 999.0
    assert [p[0] for p in kept] == sorted(p[0] for p in kept)
    assert thin(points[:10], 500) == points[:10]


def test_live_series_reads_whole_lines_only_and_numbers_missing_steps(tmp_path: Path) -> None:
    path = tmp_path / "metrics.tsv"
    series = LiveSeries(path)
    assert series.poll() == {}  # not written yet
    path.write_text("loss\t\t0.5\t1.0\nloss\t\t0.4\t2.0\nacc\t7\t0.9\t2.0\nloss\t\t0.3")
    assert series.poll() == {"loss": [(0, 0.5, 1.0), (1, 0.4, 2.0)], "acc": [(7, 0.9, 2.0)]}
    with path.open("a") as f:
        f.write("\t3.0\nbad line\nacc\t\tnan\t4.0\n")
    found = series.poll()
    assert found["loss"] == [(2, 0.3, 3.0)]
    assert found["acc"][0][0] == 8 and found["acc"][0][1] != found["acc"][0][1]  # NaN


def _running_commit(root: Path, **run: Any) -> str:
    """A commit holding only .gitexp/run.json: what a running experiment's record says."""
    import pygit2

    repo = pygit2.Repository(str(root))
    meta = repo.TreeBuilder()
    meta.insert("run.json", repo.create_blob(json.dumps(run).encode()), pygit2.GIT_FILEMODE_BLOB)
    top = repo.TreeBuilder()
    top.insert(".gitexp", meta.write(), pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("t", "t@example.com")
    return str(repo.create_commit(None, sig, sig, "running", top.write(), [repo.head.target]))


def test_a_recorded_run_dir_is_followed_only_when_it_is_ours_here(
    ui_study: Path, tmp_path: Path
) -> None:
    import socket

    run_dir = tmp_path / "run"
    live = run_dir / ".gitexp" / "live"
    live.mkdir(parents=True)
    (live / "metrics.tsv").write_text("loss\t\t0.5\t1.0\n")
    here = {"name": "x", "status": "running", "host": socket.gethostname(), "pid": os.getpid()}
    repo = open_repo(ui_study)
    found = live_metrics_file(repo, _running_commit(ui_study, **here, run_dir=str(run_dir)))
    assert found == live / "metrics.tsv"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout
    for changed in (
        {"host": "another-machine"},
        {"pid": int(dead)},  # the run is gone
        {"status": "succeeded"},
        {"run_dir": "relative/run"},
        {"run_dir": str(tmp_path / "nowhere")},
    ):
        run = {**here, "run_dir": str(run_dir), **changed}
        assert live_metrics_file(repo, _running_commit(ui_study, **run)) is None, changed
    elsewhere = tmp_path / "secret.tsv"
    elsewhere.write_text("token\t\t1.0\t1.0\n")
    (live / "metrics.tsv").unlink()
    (live / "metrics.tsv").symlink_to(elsewhere)  # a link out of the run dir: refused
    assert live_metrics_file(repo, _running_commit(ui_study, **here, run_dir=str(run_dir))) is None


# --- the JSON API --------------------------------------------------------------------


def test_experiments_endpoint_pages_sorts_filters_and_searches(client: TestClient) -> None:
    page = ok(client, "/api/experiments?filter=lr>=0.2&sort=lr&order=desc&limit=1")
    assert [r["name"] for r in page["rows"]] == ["gamma"]
    assert page["total"] == 2 and page["count"] == 8 and page["limit"] == 1
    assert "params.lr" in page["columns"]
    nxt = ok(client, "/api/experiments?filter=lr>=0.2&sort=lr&order=desc&limit=1&offset=1")
    assert [r["name"] for r in nxt["rows"]] == ["beta"]
    assert ok(client, "/api/experiments?search=ALPH")["total"] == 1
    assert ok(client, "/api/experiments?filter=status=failed")["rows"][0]["name"] == "broken"
    bad = client.get("/api/experiments?filter=nope>1")
    assert bad.status_code == 400 and "unknown column 'nope'" in bad.json()["error"]
    assert client.get("/api/experiments?limit=5000").status_code == 422


def _names(page: dict[str, Any]) -> list[str]:
    return [r["name"] for r in page["rows"]]


def test_experiments_endpoint_folds_each_sweep_like_show(client: TestClient) -> None:
    folded = ok(client, "/api/experiments?limit=100")
    names = _names(folded)
    assert "sw/" in names and "duo/" in names and not any("/trial-" in n for n in names)
    assert folded["count"] == folded["total"] == len(names) == 8 and not folded["trials"]
    sw = next(r for r in folded["rows"] if r["name"] == "sw/")
    best = ok(client, "/api/sweeps/sw")["best"][0]
    assert sw["status"] == "sweep, 4 trials" and sw["sweep"] == "sw" and sw["best"] == best
    assert sw["metrics.loss"] == ok(client, f"/api/experiments/{best}")["metrics"][0]["value"]
    every = ok(client, "/api/experiments?limit=100&trials=1")
    assert every["trials"] and every["count"] == every["total"] == 14
    assert {f"sw/trial-000{i}" for i in range(4)} <= set(_names(every))
    assert "sw/" not in _names(every)
    one = ok(client, "/api/experiments?filter=sweep=sw&sort=name")
    assert _names(one) == [f"sw/trial-000{i}" for i in range(4)]  # unfolded, as show -f
    assert one["trials"] and one["total"] == 4 and one["count"] == 14


def test_experiments_endpoint_filters_and_sorts_the_folded_rows_as_show(
    client: TestClient, ui_study: Path
) -> None:
    """show folds first, then filters and sorts: the UI's rows come in show's order."""
    for query, args in [
        ("filter=loss<1&sort=loss", ["-f", "loss<1", "-s", "loss"]),
        (
            "filter=status~sweep&sort=name&order=desc",
            ["-f", "status~sweep", "-s", "name", "--desc"],
        ),
    ]:
        shown = run_gitexp("show", *args, "--format", "csv", cwd=ui_study)
        assert shown.returncode == 0, shown.stderr
        expected = [line.split(",")[0] for line in shown.stdout.splitlines()[1:]]
        assert "sw/" in expected and _names(ok(client, "/api/experiments?" + query)) == expected
    assert _names(ok(client, "/api/experiments?filter=status~sweep&order=asc&limit=5")) == [
        *reversed(_names(ok(client, "/api/experiments?filter=status~sweep")))
    ]


def test_experiment_endpoint_marks_overrides(client: TestClient) -> None:
    found = ok(client, "/api/experiments/beta")
    params = {p["key"]: p for p in found["params"]}
    assert params["lr"]["overridden"] and params["model.depth"]["overridden"]
    assert not params["x"]["overridden"] and params["lr"]["value"] == 0.2
    metrics = {m["key"]: m for m in found["metrics"]}
    assert metrics["loss"]["history"]["steps"] == 4 and metrics["val/acc"]["value"] == 0.6
    assert found["command"] == ["python", "train.py"] and found["status"] == "succeeded"
    assert found["environment"]["python"] and isinstance(found["seed"], int)
    assert found["overrides"] == ["lr=0.2", "model.depth=6"]
    assert client.get("/api/experiments/no-such").status_code == 404


def test_history_log_diff_and_files_endpoints(client: TestClient) -> None:
    history = ok(client, "/api/history/beta")
    assert history["series"]["loss"]["steps"] == [0, 1, 2, 3]
    assert history["series"]["loss"]["values"][0] == pytest.approx(0.2)
    only = ok(client, "/api/history/beta?metric=val/acc")
    assert list(only["series"]) == ["val/acc"]
    assert list(ok(client, "/api/history/beta?metric=metrics.loss")["series"]) == ["loss"]
    typo = client.get("/api/history/beta?metric=los")
    assert typo.status_code == 404
    assert typo.json() == {
        "error": "experiment 'beta' has no metric 'los' (hint: did you mean 'loss'?)"
    }
    assert "trained 0.2" in ok(client, "/api/log/beta")["text"]
    diff = ok(client, "/api/diff/beta")
    assert "-lr: 0.1" in diff["text"] and "+lr: 0.2" in diff["text"]
    against = ok(client, "/api/diff/beta?against=gamma")
    assert against["base"] == git(Path.cwd(), "rev-parse", "refs/experiments/gamma").strip()
    listing = {f["path"]: f["size"] for f in ok(client, "/api/files/beta")["files"]}
    text = client.get("/api/files/beta?path=params.yaml")
    assert text.status_code == 200 and "lr: 0.2" in text.text
    assert listing["params.yaml"] == len(text.content) and ".gitexp/run.json" in listing
    assert text.headers["content-type"].startswith("text/plain")
    assert client.get("/api/files/beta?path=missing.txt").status_code == 404


def test_trial_names_with_a_slash_work_everywhere(client: TestClient) -> None:
    found = ok(client, "/api/experiments/sw/trial-0001")
    assert found["name"] == "sw/trial-0001" and found["sweep"] == "sw" and found["trial"] == 1
    assert "loss" in ok(client, "/api/history/sw/trial-0001")["series"]
    assert client.get("/experiments/sw/trial-0001").status_code == 200


def test_compare_endpoint(client: TestClient) -> None:
    found = ok(client, "/api/compare?names=alpha&names=beta")
    assert [e["name"] for e in found["experiments"]] == ["alpha", "beta"]
    lr = next(r for r in found["params"] if r["key"] == "lr")
    assert lr["values"] == [0.1, 0.2] and lr["changed"] and lr["deltas"][1] == pytest.approx(0.1)
    x = next(r for r in found["params"] if r["key"] == "x")
    assert not x["changed"]
    one = client.get("/api/compare?names=alpha")
    assert one.status_code == 400 and "2 to 20" in one.json()["error"]


def test_sweep_endpoints(client: TestClient) -> None:
    listed = {s["name"]: s for s in ok(client, "/api/sweeps")["sweeps"]}
    assert listed["sw"]["trials"] == 4 and listed["duo"]["objectives"] == ["loss:min", "cost:min"]
    sw = ok(client, "/api/sweeps/sw")
    assert [t["trial"] for t in sw["trials"]] == [0, 1, 2, 3] and sw["searched"] == ["x"]
    best = min(sw["trials"], key=lambda t: t["values"]["loss"])
    assert sw["best"] == [best["name"]]
    assert sw["importances"] == {"loss": {"x": pytest.approx(1.0)}}  # one param: all of it
    quick = ok(client, "/api/sweeps/sw?importances=false")  # what the page's script asks first
    assert quick["importances"] == {} and quick["trials"] == sw["trials"]
    duo = ok(client, "/api/sweeps/duo")
    assert duo["metrics"] == ["loss", "cost"]
    values = {t["name"]: (t["values"]["loss"], t["values"]["cost"]) for t in duo["trials"]}
    front = {  # those nobody dominates
        n for n, a in values.items()
        if not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in values.values())
    }  # fmt: skip
    assert set(duo["best"]) == front and len(front) == 3
    assert client.get("/api/sweeps/nope").status_code == 404


def test_model_endpoints(client: TestClient) -> None:
    models = ok(client, "/api/models")["models"]
    assert [m["model"] for m in models] == ["churn"] and models[0]["stages"] == {"prod": "v0.0.1"}
    churn = ok(client, "/api/models/churn")
    assert churn["versions"][0]["experiment"] == "alpha"
    assert [h["event"] for h in churn["history"]] == ["registered", "promoted"]
    assert client.get("/api/models/nope").status_code == 404


def test_a_finished_experiments_live_stream_says_its_status_and_ends(client: TestClient) -> None:
    response = client.get("/api/live/alpha")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: status" in response.text and '"status":"succeeded"' in response.text
    assert client.get("/api/live/no-such").status_code == 404


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = set(ok(client, "/api/openapi.json")["paths"])
    for path in (
        "/api/health",
        "/api/experiments",
        "/api/experiments/{name}",
        "/api/history/{name}",
        "/api/log/{name}",
        "/api/diff/{name}",
        "/api/files/{name}",
        "/api/compare",
        "/api/sweeps",
        "/api/sweeps/{name}",
        "/api/models",
        "/api/models/{name}",
        "/api/events",
        "/api/live/{name}",
    ):
        assert path in paths
    page = client.get("/api")
    assert page.status_code == 200 and "/api/history/{name}" in page.text
    assert client.get("/docs").status_code == 404  # its scripts would come from a CDN


def test_every_page_renders(client: TestClient) -> None:
    for url, expected in (
        ("/", 'id="experiments"'),
        ("/experiments/beta", "override"),
        ("/compare?names=alpha&names=beta", "compare-params"),
        ("/sweeps", "/sweeps/duo"),
        ("/sweeps/sw", "trial-0003"),
        ("/models", "/models/churn"),
        ("/models/churn", "v0.0.1"),
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        assert expected in response.text, url
    missing = client.get("/experiments/no-such")
    assert missing.status_code == 404 and "no experiment named" in missing.text
    assert client.get("/static/plotly.min.js").text.lstrip().startswith("/**")


# --- security ------------------------------------------------------------------------


def test_no_path_leaves_the_repository(client: TestClient) -> None:
    for url in (
        "/api/files/alpha?path=../../../../etc/passwd",
        "/api/files/alpha?path=%2e%2e/%2e%2e/etc/passwd",
        "/api/files/alpha?path=/etc/passwd",
        "/api/files/alpha?path=..%2F..%2Fetc%2Fpasswd",
    ):
        response = client.get(url)
        assert response.status_code == 400 and "bad file path" in response.json()["error"], url
    for url in (
        "/static/../../etc/passwd",
        "/static/..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/%2e%2e%2fapp.py",
        "/api/experiments/..%2F..%2Fetc%2Fpasswd",
        "/api/history/../../../etc/passwd",
        "/experiments/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "root:" not in response.text


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for url in ("/", "/api/experiments", "/static/style.css", "/api/nope", "/experiments/x"):
        response = client.get(url)
        assert response.headers["content-security-policy"] == CSP, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP and "unsafe-eval" not in CSP


def test_read_only_and_loopback_host_only(client: TestClient) -> None:
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/api/experiments")
        assert response.status_code == 405
        assert response.headers["content-security-policy"] == CSP
    head = client.head("/api/experiments")
    assert head.status_code == 200 and head.content == b""
    rebinding = client.get("/api/health", headers={"host": "evil.example:8765"})
    assert rebinding.status_code == 403
    for host in ("localhost:8765", "127.0.0.1", "[::1]:1"):
        assert client.get("/api/health", headers={"host": host}).status_code == 200


def test_a_token_is_checked_on_every_request(ui_study: Path) -> None:
    token = "s3cret-token"
    with TestClient(create_app(ui_study, token), base_url="http://10.1.2.3:8765") as c:
        for url in ("/", "/api/experiments", "/static/style.css", "/experiments/alpha"):
            refused = c.get(url)
            assert refused.status_code == 401, url
            assert refused.headers["content-security-policy"] == CSP
        assert c.get("/api/health", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/?token=wrong").status_code == 401
        bearer = c.get("/api/experiments", headers={"authorization": f"Bearer {token}"})
        assert bearer.status_code == 200
        assert c.get(f"/api/health?token={token}").status_code == 200
        login = c.get(f"/experiments/alpha?token={token}&x=1", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/experiments/alpha?x=1"
        assert "HttpOnly" in login.headers["set-cookie"]
        assert "SameSite=Strict" in login.headers["set-cookie"]
        assert c.get("/experiments/alpha").status_code == 200  # the cookie now


def test_script_in_a_name_or_a_param_value_is_escaped(client: TestClient) -> None:
    table = ok(client, f"/api/experiments?search={INJECTED_REF[:3]}")
    assert table["rows"][0]["name"] == INJECTED_REF  # JSON carries it as data
    for url in ("/experiments/evil", "/compare?names=evil&names=alpha"):
        page = client.get(url).text
        assert INJECTED not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url
    page = client.get("/experiments/" + INJECTED_REF.replace("<", "%3C").replace(">", "%3E"))
    assert page.status_code == 200
    assert "<script>alert(3)" not in page.text and "y&lt;script&gt;alert(3)" in page.text


# --- the real server -------------------------------------------------------------------


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _events(url: str, seen: list[tuple[str, dict[str, Any]]], stop: threading.Event) -> None:
    with urllib.request.urlopen(url, timeout=60) as response:
        event = ""
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                seen.append((event, json.loads(line[6:])))
            if stop.is_set():
                return


def test_the_cli_serves_pushes_changes_and_stops_on_ctrl_c(ui_study: Path) -> None:
    with serve(ui_study) as server:
        assert server.token is None and server.base.startswith("http://127.0.0.1:")
        status, body = _get(server.base + "/api/experiments?search=beta")
        assert status == 200 and json.loads(body)["rows"][0]["name"] == "beta"
        seen: list[tuple[str, dict[str, Any]]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_events, args=(server.base + "/api/events", seen, stop))
        reader.start()
        wait_for(lambda: any(e == "hello" for e, _ in seen))
        done = run_gitexp("run", "-q", "-n", "fresh", "--", "python", "train.py", cwd=ui_study)
        assert done.returncode == 0, done.stderr
        wait_for(lambda: any(e == "run_recorded" and p["name"] == "fresh" for e, p in seen))
        changed = [p for e, p in seen if e == "experiments"]
        assert any(c["name"] == "fresh" for p in changed for c in p["changed"])
        stop.set()
        assert server.stop() == 0  # Ctrl-C with an event stream open
        reader.join(timeout=60)


def test_a_running_experiment_streams_its_points(ui_study: Path, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    run = start_slow_run(ui_study, "slowpoke", stop)
    try:
        with serve(ui_study) as server:
            wait_for(lambda: _get(server.base + "/api/experiments/slowpoke")[0] == 200)
            seen: list[tuple[str, dict[str, Any]]] = []
            done = threading.Event()
            url = server.base + "/api/live/slowpoke"
            reader = threading.Thread(target=_events, args=(url, seen, done), daemon=True)
            reader.start()

            def steps() -> int:
                return sum(len(p["metrics"].get("loss", {}).get("steps", [])) for _, p in seen)

            first = wait_for(steps)
            wait_for(lambda: steps() > first + 5)
            stop.touch()
            wait_for(lambda: any(e == "status" for e, _ in seen))
            assert [p["status"] for e, p in seen if e == "status"] == ["succeeded"]
            reader.join(timeout=60)
            assert not reader.is_alive()  # the server ended the stream
    finally:
        stop.touch()
        run.wait(timeout=180)
    assert run.returncode == 0, run.stderr.read() if run.stderr else ""


def test_off_loopback_the_cli_makes_and_checks_a_token(ui_study: Path) -> None:
    with serve(ui_study, "--host", "0.0.0.0") as server:
        assert server.token and len(server.token) >= 32
        port = server.base.rsplit(":", 1)[1]
        local = f"http://127.0.0.1:{port}"
        assert _get(local + "/api/health")[0] == 401
        assert _get(local + "/api/health", {"authorization": "Bearer nope"})[0] == 401
        good = {"authorization": f"Bearer {server.token}"}
        assert _get(local + "/api/experiments", good)[0] == 200


def test_cli_mistakes_are_one_line(ui_study: Path) -> None:
    bad = run_gitexp("ui", "--port", "70000", cwd=ui_study)
    assert bad.returncode == 2 and last_line(bad.stderr) == (
        "gitexp: error: bad port 70000 (hint: give 0..65535 (0: any free port))"
    )
    with serve(ui_study) as server:
        port = server.base.rsplit(":", 1)[1]
        busy = run_gitexp("ui", "--port", port, cwd=ui_study)
        assert busy.returncode == 1
        assert last_line(busy.stderr).startswith(
            f"gitexp: error: cannot listen on 127.0.0.1:{port}"
        )
    outside = run_gitexp("ui", cwd=ui_study.parent)
    assert outside.returncode == 2 and "not a git repository" in outside.stderr


def test_a_missing_web_stack_is_one_line(ui_study: Path) -> None:
    code = (
        "import sys; sys.modules['plotly'] = None\n"
        "from gitexp.cli.app import main\n"
        "sys.exit(main(['ui', '--port', '0']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ui_study, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert last_line(proc.stderr) == (
        "gitexp: error: the web UI needs plotly, which is not installed "
        "(hint: pip install 'gitexp[ui]')"
    )


def test_import_gitexp_and_gitexp_run_load_no_web_module(ui_study: Path) -> None:
    web = {"fastapi", "uvicorn", "starlette", "jinja2", "plotly", "pydantic"}
    for argv in (
        ["-c", "import gitexp"],
        ["-m", "gitexp", "run", "-q", "-n", "plain", "--", "python", "train.py"],
    ):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *argv],
            cwd=ui_study,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}
        assert not {m.split(".")[0] for m in imported} & web, argv
        assert not any(m.startswith("gitexp.web") for m in imported), argv
