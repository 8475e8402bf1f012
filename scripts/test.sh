#!/usr/bin/env bash
# The project's one test command (README, .ci/run): install, start backends, lint, test.
#
# Installs gitexp with every extra, starts a Docker engine and builds the local
# base image when run as root (scripts/docker-up.sh), then runs ruff, mypy and
# the whole pytest suite, slow tests included. Extra arguments go to pytest.
# Installs Debian's git-lfs when run as root and it is missing (the Git LFS tests).
# GITEXP_REQUIRE_DOCKER=1 / GITEXP_REQUIRE_DVC=1 / GITEXP_REQUIRE_LFS=1 /
# GITEXP_REQUIRE_MOUNT=1 (a tmpfs for the full-disk tests, root only) /
# GITEXP_REQUIRE_RAY=1 / GITEXP_REQUIRE_TORCH=1 / GITEXP_REQUIRE_BROWSER=1 turn a
# missing backend into a failure instead of a skip (.ci/run sets them).
# The web UI's browser tests drive Debian's chromium (installed when root and missing)
# with Playwright from the dev extra; `playwright install` is never run (it downloads).
# Ray comes with the `all` extra; torch (for the torch.distributed tests) is pinned to
# 2.13.0, whose CPU build these machines keep in their local wheel house (pip's
# find-links): a bare `torch` would pull a multi-GB CUDA build. Elsewhere, install the CPU
# build from PyTorch's index first (docs/autolog.md#installing-the-deep-learning-frameworks).
# The deep-learning extras (keras, tensorflow, fastai: autolog's tests) pin the same
# torch; from a fresh cache they add about 100 s and 2 GB to the install (docs/autolog.md),
# and GITEXP_REQUIRE_DEEP=1 makes their tests fail rather than skip if one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export DVC_NO_ANALYTICS=1 RAY_USAGE_STATS_ENABLED=0 PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n== %s\n' "$*"; }

step "install gitexp with all extras"
python3 -m pip install -q -e '.[all,dev,examples,distributed,keras,tensorflow,fastai]' \
    'torch==2.13.0'
export GITEXP_REQUIRE_DEEP=1

step "docker engine and base image"
if [ "$(id -u)" = 0 ]; then
    bash scripts/docker-up.sh
elif [ "${GITEXP_REQUIRE_DOCKER:-0}" = 1 ]; then
    echo "GITEXP_REQUIRE_DOCKER=1 but not root: cannot start a Docker engine" >&2
    exit 1
else
    echo "not root: Docker tests run only if an engine is already reachable"
fi

step "git-lfs"
if command -v git-lfs >/dev/null 2>&1; then
    git-lfs version
elif [ "$(id -u)" = 0 ]; then
    # Debian's package, as scripts/docker-up.sh installs docker.io (log kept for CI)
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y --no-install-recommends git-lfs; } \
        >>/var/log/gitexp-lfs-apt.log 2>&1 \
        || { tail -n 30 /var/log/gitexp-lfs-apt.log >&2; echo "apt-get install git-lfs failed" >&2; exit 1; }
    git-lfs version
elif [ "${GITEXP_REQUIRE_LFS:-0}" = 1 ]; then
    echo "GITEXP_REQUIRE_LFS=1 but git-lfs is missing and not root: cannot install it" >&2
    exit 1
else
    echo "not root: the Git LFS tests run only if git-lfs is already installed"
fi

step "chromium (the web UI's browser tests)"
if [ -x /usr/bin/chromium ]; then
    /usr/bin/chromium --version 2>/dev/null
elif [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y --no-install-recommends chromium; } \
        >>/var/log/gitexp-chromium-apt.log 2>&1 \
        || { tail -n 30 /var/log/gitexp-chromium-apt.log >&2; echo "apt-get install chromium failed" >&2; exit 1; }
    /usr/bin/chromium --version 2>/dev/null
elif [ "${GITEXP_REQUIRE_BROWSER:-0}" = 1 ]; then
    echo "GITEXP_REQUIRE_BROWSER=1 but chromium is missing and not root: cannot install it" >&2
    exit 1
else
    echo "not root: the browser tests run only if /usr/bin/chromium is already installed"
fi

step "ruff"
python3 -m ruff check gitexp tests benchmarks examples
python3 -m ruff format --check gitexp tests benchmarks examples

step "mypy"
python3 -m mypy

step "pytest"
python3 -m pytest -n "${GITEXP_TEST_WORKERS:-3}" --dist loadfile "$@"
