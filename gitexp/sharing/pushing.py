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

A stage (or deprecation) tag must never land without the version tag it
refers to (registry/travel.py ``needs``). A push carrying such a tag is
``--atomic``: still one `git push` when nothing conflicts. When something
does, git sends nothing (it finds the conflict from the remote's
advertisement, before the pack), and the push goes in two phases: every
ref but those tags, then the tags whose versions are on the remote with
this commit; the others are held back (``Outcome.held``). A remote that
cannot push atomically gets the two phases at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.dvcstore import transfer
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.registry import travel
from gitexp.registry.tagnames import TAG_PREFIX
from gitexp.registry.travel import TagRef
from gitexp.sharing.results import Conflict, SyncResult

GLOB = f"{store.REF_PREFIX}*:{store.REF_PREFIX}*"
NO_ATOMIC = "does not support --atomic"  # what git says of a remote without atomic pushes


class AtomicUnsupported(BackendError):
    """The remote cannot apply a push atomically (the two phases do instead)."""


@dataclass(frozen=True)
class Request:
    """What a push sends: experiments (None: every one, as one glob), model tags."""

    names: list[str] | None
    tags: list[str]
    force: bool
    left_out: tuple[str, ...] = ()  # refs the glob must not send (no commits: refkinds.py)

    def argv(self) -> list[str]:
        """Leases and refspecs: every experiment as one glob (less the refs left
        out, as negative refspecs), else one refspec per name (git matches
        explicit refspecs pairwise: a glob for all)."""
        plus = "+" if self.force else ""
        names = self.names
        specs = [plus + GLOB] if names is None else [f"{plus}{_ref(n)}:{_ref(n)}" for n in names]
        specs += [f"^{ref}" for ref in self.left_out] if names is None else []
        specs += [travel.refspec(t) for t in self.tags]
        if self.force:  # experiments are forced by their `+`; a tag keeps its lease
            return [*(f"--force-with-lease={TAG_PREFIX}{t}:" for t in self.tags), *specs]
        return ["--force-with-lease", *specs]


@dataclass(frozen=True)
class Outcome:
    """Per ref (full names): pushed new, already there, forced, rejected (why)."""

    new: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)  # tag → the version tag it lacks
    theirs: dict[str, str] = field(default_factory=dict)  # ref → the remote's sha, if asked

    def experiments(self, refs: list[str]) -> list[str]:
        return [r[len(store.REF_PREFIX) :] for r in refs if r.startswith(store.REF_PREFIX)]

    def tags(self, refs: list[str]) -> list[str]:
        return [r[len(TAG_PREFIX) :] for r in refs if r.startswith(TAG_PREFIX)]


def arguments(
    names: list[str] | None, tags: list[str], force: bool, left_out: Iterable[str] = ()
) -> Request:
    """The push of these experiments (None: all, less the full refs ``left_out``)
    and model tags."""
    return Request(names, tags, force, tuple(sorted(left_out)))


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
    not a conflict. Of an atomic push, the ref that failed it, not its victims."""
    refused = [
        f"{ref} {summary}"
        for ref, summary in outcome.rejected.items()
        if summary.startswith(("[remote rejected]", "[remote failure]"))
    ]
    refused.sort(key=lambda line: "atomic transaction failed" in line)
    return refused[0] if refused else None


def run(repo: Repo, remote: str, request: Request, env: dict[str, str], dry_run: bool) -> Outcome:
    """The push (see the module's docstring): what it did to each ref."""
    commit_of = _commit_reader(repo)
    needed = travel.needs(request.tags, commit_of)
    if not needed:
        return _push(repo, remote, request.argv(), env, dry_run)
    try:
        first = _push(repo, remote, request.argv(), env, dry_run, atomic=True)
        if not first.rejected:
            return first
    except AtomicUnsupported:
        pass
    phases = Phases(repo, remote, env, dry_run, commit_of)
    return phases.push(request, needed)


def _commit_reader(repo: Repo) -> Callable[[str], str | None]:
    """tag → the commit it points at (None when absent), each read once."""

    @cache
    def commit_of(tag: str) -> str | None:
        ref = repo.git.references.get(TAG_PREFIX + tag)
        obj: Any = repo.git.get(ref.target) if ref is not None else None
        return str(obj.target) if obj is not None and obj.type_str == "tag" else None

    return commit_of


@dataclass(frozen=True)
class Phases:
    """The push in two phases (a conflict, or a remote that cannot push atomically)."""

    repo: Repo
    remote: str
    env: dict[str, str]
    dry_run: bool
    commit_of: Callable[[str], str | None]

    def push(self, request: Request, needed: dict[str, list[str]]) -> Outcome:
        """Every ref but the tags that need a version; then those whose versions are
        on the remote with this repository's commit. The others are held back."""
        first = replace(request, tags=[t for t in request.tags if t not in needed])
        out = self._send(first)
        versions = {v for vs in needed.values() for v in vs if TAG_PREFIX + v in out.rejected}
        theirs = self._ask(sorted(versions)) if versions else {}

        def same_there(tag: str) -> bool:
            return theirs.get(f"{TAG_PREFIX}{tag}{travel.PEELED}") == self.commit_of(tag)

        held = travel.held(needed, set(out.tags(out.new + out.same)), same_there)
        later = [t for t in request.tags if t in needed and t not in held]
        second = self._send(Request([], later, request.force)) if later else Outcome()
        return _merged(out, second, held, theirs)

    def _send(self, request: Request) -> Outcome:
        return _push(self.repo, self.remote, request.argv(), self.env, self.dry_run)

    def _ask(self, tags: list[str]) -> dict[str, str]:
        """The remote's tag objects and commits of these tags (one `git ls-remote`)."""
        refs = [f"{TAG_PREFIX}{t}{end}" for t in tags for end in ("", travel.PEELED)]
        return _remote_commits(self.repo, self.remote, refs)


def _merged(a: Outcome, b: Outcome, held: dict[str, str], theirs: dict[str, str]) -> Outcome:
    return Outcome(
        a.new + b.new, a.same + b.same, a.forced + b.forced, {**a.rejected, **b.rejected},
        held, theirs,
    )  # fmt: skip


def _push(
    repo: Repo,
    remote: str,
    args: list[str],
    env: dict[str, str],
    dry_run: bool,
    atomic: bool = False,
) -> Outcome:
    """One `git push --porcelain` (progress on a terminal): what it did to each ref."""
    import subprocess
    import sys

    dry = ["--dry-run"] if dry_run else []
    progress = ["--progress"] if sys.stderr.isatty() and not dry_run else []
    options = [*dry, *progress, *(["--atomic"] if atomic else [])]
    argv = ["git", "push", "--porcelain", *options, remote, *args]
    try:
        proc = subprocess.run(
            argv, cwd=repo.root, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise BackendError("git is not installed", "install git; gitexp pushes with it") from exc
    outcome = parse(proc.stdout)
    if progress and not (atomic and outcome.rejected):  # that one sent nothing: say nothing
        sys.stderr.write(proc.stderr)
    return _check(outcome, proc.stderr, proc.returncode)


def _check(outcome: Outcome, stderr: str, code: int) -> Outcome:
    """A push that reported its refs is parsed; one that did not failed as a whole."""
    if code != 0 and not (outcome.new or outcome.same or outcome.forced or outcome.rejected):
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        detail = (errors or lines or [f"exit code {code}"])[0]  # the first says why
        if NO_ATOMIC in detail:
            raise AtomicUnsupported(f"git push failed: {detail}")
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
    unknown = [r for r in rejected if r not in outcome.theirs]
    theirs = {**outcome.theirs, **(_remote_commits(repo, remote, unknown) if unknown else {})}
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
        held_back=outcome.held,
    )


def _remote_commits(repo: Repo, remote: str, refs: list[str]) -> dict[str, str]:
    found = {}
    from gitexp.sharing.remotes import git_output  # remotes imports this module

    for line in git_output(repo, "ls-remote", remote, *refs).splitlines():
        sha, _, ref = line.partition("\t")
        if ref in refs:
            found[ref] = sha
    return found
