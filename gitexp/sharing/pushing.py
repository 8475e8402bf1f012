"""`gitexp push` as one `git push`: git decides, per ref, what is new, what the
remote has already, and what would overwrite something there.

Asking the remote first (`git ls-remote`) costs a second advertisement of every
ref it has: at 100,000 experiments that doubled a push of five. Instead, the
push itself carries the rule: ``--force-with-lease`` with no expected value
refuses to update any ref that exists on the remote with another commit (for
a ref no remote-tracking ref follows, the lease expects it absent), so a new
experiment goes, an identical one is "up to date", and a differing one is
rejected — a conflict, never overwritten, fast-forward or not. ``--force``
forces experiments (``+`` refspecs) while model tags keep an explicit lease:
a tag is never moved. `--porcelain` says what happened to each ref.

Only a conflict costs one more round trip (`git ls-remote` of the conflicting
refs, to say which commit the remote has). When artifacts (DVC, Git LFS)
must reach their remote before the refs do, a ``--dry-run`` of the same push
says what will move first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitexp.common.errors import BackendError
from gitexp.dvcstore import transfer
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.registry.tagnames import TAG_PREFIX
from gitexp.registry.travel import TagRef
from gitexp.sharing.results import Conflict, SyncResult

GLOB = f"{store.REF_PREFIX}*:{store.REF_PREFIX}*"


@dataclass(frozen=True)
class Outcome:
    """Per ref (full names): pushed new, already there, forced, rejected (why)."""

    new: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    def experiments(self, refs: list[str]) -> list[str]:
        return [r[len(store.REF_PREFIX) :] for r in refs if r.startswith(store.REF_PREFIX)]

    def tags(self, refs: list[str]) -> list[str]:
        return [r[len(TAG_PREFIX) :] for r in refs if r.startswith(TAG_PREFIX)]


def arguments(names: list[str] | None, tags: list[str], force: bool) -> list[str]:
    """Leases and refspecs: every experiment (``names`` None) as one glob, else one
    refspec per name (git matches explicit refspecs pairwise: a glob for all)."""
    plus = "+" if force else ""
    specs = [plus + GLOB] if names is None else [f"{plus}{_ref(n)}:{_ref(n)}" for n in names]
    specs += [f"{TAG_PREFIX}{t}:{TAG_PREFIX}{t}" for t in tags]
    if force:  # experiments are forced by their `+`; a tag keeps its lease: never moved
        return [*(f"--force-with-lease={TAG_PREFIX}{t}:" for t in tags), *specs]
    return ["--force-with-lease", *specs]


def _ref(name: str) -> str:
    return store.REF_PREFIX + name


def parse(stdout: str) -> Outcome:
    """`git push --porcelain`'s ref lines: ``FLAG<TAB>FROM:TO<TAB>SUMMARY``."""
    out = Outcome()
    for line in stdout.splitlines():
        flag, _, rest = line.partition("\t")
        refs, _, summary = rest.partition("\t")
        target = refs.rpartition(":")[2]
        if len(flag) != 1 or not target.startswith("refs/"):
            continue  # "To <url>", "Done"
        if flag == "*":
            out.new.append(target)
        elif flag == "=":
            out.same.append(target)
        elif flag in "+ ":  # an existing ref updated: only --force gets past the lease
            out.forced.append(target)
        elif flag == "!":
            out.rejected[target] = summary
    return out


def refused_by_remote(outcome: Outcome) -> str | None:
    """A ref the remote itself refused (a hook, a protected namespace): an error,
    not a conflict."""
    for ref, summary in outcome.rejected.items():
        if summary.startswith("[remote rejected]") or summary.startswith("[remote failure]"):
            return f"{ref} {summary}"
    return None


def run(repo: Repo, remote: str, args: list[str], env: dict[str, str], dry_run: bool) -> Outcome:
    """One `git push --porcelain` (progress on a terminal): what it did to each ref."""
    import subprocess
    import sys

    dry = ["--dry-run"] if dry_run else []
    progress = ["--progress"] if sys.stderr.isatty() and not dry_run else []
    argv = ["git", "push", "--porcelain", *dry, *progress, remote, *args]
    try:
        proc = subprocess.run(
            argv, cwd=repo.root, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise BackendError("git is not installed", "install git; gitexp pushes with it") from exc
    if progress:
        sys.stderr.write(proc.stderr)
    return _check(parse(proc.stdout), proc.stderr, proc.returncode)


def _check(outcome: Outcome, stderr: str, code: int) -> Outcome:
    """A push that reported its refs is parsed; one that did not failed as a whole."""
    if code != 0 and not (outcome.new or outcome.same or outcome.forced or outcome.rejected):
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        detail = (errors or lines or [f"exit code {code}"])[0]  # the first says why
        raise BackendError(f"git push failed: {detail}")
    refused = refused_by_remote(outcome)
    if refused is not None:
        raise BackendError(f"git push: the remote refused {refused}")
    return outcome


def result(
    repo: Repo,
    remote: str,
    outcome: Outcome,
    local: dict[str, str],
    mine: dict[str, TagRef],
    sent: transfer.Transfer | None,
) -> SyncResult:
    """What the push did, per experiment and tag; a conflict names the remote's commit
    (one `git ls-remote` of the rejected refs, only when there are some)."""
    rejected = list(outcome.rejected)
    theirs = _remote_commits(repo, remote, rejected) if rejected else {}
    conflicts = [
        Conflict(n, local.get(n, "?"), theirs.get(store.ref_name(n), "?"))
        for n in outcome.experiments(rejected)
    ]
    tag_conflicts = [
        Conflict(t, mine[t].oid if t in mine else "?", theirs.get(TAG_PREFIX + t, "?"))
        for t in outcome.tags(rejected)
    ]
    return SyncResult(
        transferred=outcome.experiments(outcome.new),
        up_to_date=outcome.experiments(outcome.same),
        conflicts=conflicts,
        forced=outcome.experiments(outcome.forced),
        artifacts=sent,
        tags=outcome.tags(outcome.new),
        tags_up_to_date=outcome.tags(outcome.same),
        tag_conflicts=tag_conflicts,
    )


def _remote_commits(repo: Repo, remote: str, refs: list[str]) -> dict[str, str]:
    found = {}
    from gitexp.sharing.remotes import git_output  # remotes imports this module

    for line in git_output(repo, "ls-remote", remote, *refs).splitlines():
        sha, _, ref = line.partition("\t")
        if ref in refs:
            found[ref] = sha
    return found
