#!/usr/bin/env bash
# docker-up.sh — make sure a Docker engine answers and that gitexp's local
# Python base image exists, so the Docker-backed tests can run.
#
# Idempotent: on a machine that already has a running engine and the image it
# only verifies them (a few seconds) and changes nothing.
#
# Usage: scripts/docker-up.sh [--check-pip] [--rebuild] [-h|--help]
#   --check-pip  also check that a classic-builder build with host networking
#                can `pip install` from PyPI inside the base image (a failure
#                is reported but does not fail the script)
#   --rebuild    remove the base image first and build it again
#
# Environment:
#   GITEXP_DOCKER_BASE_IMAGE  name of the base image (default gitexp-base:py311)
#
# See docs/docker-setup.md.
set -euo pipefail

IMAGE="${GITEXP_DOCKER_BASE_IMAGE:-gitexp-base:py311}"
SUITE="bookworm"
MIRROR="http://deb.debian.org/debian"
DOCKERD_LOG="/var/log/gitexp-dockerd.log"
APT_LOG="/var/log/gitexp-docker-apt.log"
DEBOOTSTRAP_LOG="/var/log/gitexp-debootstrap.log"
LOCK_FILE="/run/lock/gitexp-docker-up.lock"
ENGINE_WAIT_S=60
# The image's PATH: the venv first, because Debian's own Python is "externally
# managed" (PEP 668) and refuses plain `pip install`.
IMAGE_PATH="/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

CHECK_PIP=0
REBUILD=0
APT_UPDATED=0
BUILD_DIR=""       # temp dir holding the debootstrap rootfs, removed on exit
PIPCHECK_DIR=""    # temp build context of the --check-pip build
PIPCHECK_TAG=""    # throwaway image of the --check-pip build

log() { echo "docker-up: $*" >&2; }
die() { echo "docker-up: ERROR: $*" >&2; exit 1; }

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

is_root() { [ "$(id -u)" -eq 0 ]; }

engine_answers() { docker info >/dev/null 2>&1; }

# Show the end of a log file, so a failure explains itself in CI output.
show_log_tail() {
  local file="$1"
  if [ -f "$file" ]; then
    echo "----- last lines of $file -----" >&2
    tail -n 30 "$file" >&2 || true
    echo "-----" >&2
  fi
}

# Unmount whatever debootstrap may have left mounted below a directory (it
# mounts /proc and /sys and, inside containers, bind-mounts the host's /dev)
# before deleting it: `rm -rf` through a bind mount would delete host files.
remove_tree() {
  local dir="$1" mnt
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  # Deepest mount points first.
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v d="$dir" 'index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

cleanup() {
  local rc=$?
  if [ -n "$PIPCHECK_TAG" ]; then
    docker image rm -f "$PIPCHECK_TAG" >/dev/null 2>&1 || true
  fi
  [ -z "$PIPCHECK_DIR" ] || rm -rf "$PIPCHECK_DIR"
  remove_tree "$BUILD_DIR" || true
  exit "$rc"
}
trap cleanup EXIT

# Serialize concurrent runs (e.g. parallel CI jobs on one machine): two runs
# must not start two daemons or debootstrap the same image at once.
take_lock() {
  is_root || return 0
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    log "another docker-up run holds $LOCK_FILE, waiting for it"
    flock 9
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update (log: $APT_LOG)"
    apt-get update >>"$APT_LOG" 2>&1 || { show_log_tail "$APT_LOG"; die "apt-get update failed"; }
    APT_UPDATED=1
  fi
  log "apt-get install $* (log: $APT_LOG)"
  apt-get install -y --no-install-recommends "$@" >>"$APT_LOG" 2>&1 \
    || { show_log_tail "$APT_LOG"; die "apt-get install $* failed"; }
}

# --- step 1+2: a running engine --------------------------------------------

ensure_engine() {
  if engine_answers; then
    log "engine already answers"
    return 0
  fi
  if ! is_root; then
    # Installing and starting dockerd needs root; a non-root user can only use
    # an engine someone else started (and must be allowed on its socket).
    echo "docker-up: no Docker engine answers (docker info fails); run this script as root (sudo $0) or start dockerd and make sure you may use /var/run/docker.sock (docker group)" >&2
    exit 1
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    # Debian's engine (20.10); Docker Hub and Docker's own apt repo are not
    # reachable from the test machines, Debian's mirror is.
    apt_install docker.io
  fi
  start_dockerd
}

start_dockerd() {
  local pid waited=0
  log "starting dockerd (log: $DOCKERD_LOG)"
  # --iptables=false --bridge=none: the test machines allow no iptables
  # changes; containers then use network "none" or "host", which is all the
  # tests need. setsid + redirected stdio: the daemon must outlive this script
  # and the test run that called it, and must not hold the caller's terminal.
  # 9>&-: the daemon must not inherit (and so hold forever) our run lock.
  setsid dockerd --iptables=false --bridge=none >"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  while ! engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail "$DOCKERD_LOG"
      die "dockerd exited before it answered"
    fi
    if [ "$waited" -ge "$ENGINE_WAIT_S" ]; then
      show_log_tail "$DOCKERD_LOG"
      die "dockerd (pid $pid) did not answer within ${ENGINE_WAIT_S}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "engine answers after ~${waited}s (dockerd pid $pid)"
}

# --- step 3: the base image -------------------------------------------------

image_exists() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

ensure_base_image() {
  if [ "$REBUILD" -eq 1 ] && image_exists; then
    log "--rebuild: removing $IMAGE"
    docker image rm -f "$IMAGE" >/dev/null
  fi
  if image_exists; then
    log "base image $IMAGE already exists"
    return 0
  fi
  # There is no Docker Hub here (no `FROM python:3.11-slim`), so the image is
  # made from Debian's packages; that needs root for debootstrap and chroot.
  is_root || die "base image $IMAGE is missing and building it needs root; run: sudo $0"
  build_base_image || die "could not build base image $IMAGE (see messages above)"
  image_exists || die "base image $IMAGE still missing after the build"
}

# Called as `build_base_image || die`, where bash ignores `set -e` inside the
# function: every step checks its own result.
build_base_image() {
  local rootfs start=$SECONDS
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap || return 1
  # /var/tmp, not /tmp: the rootfs is a few hundred MB and /tmp may be a
  # small tmpfs.
  BUILD_DIR="$(mktemp -d /var/tmp/gitexp-rootfs.XXXXXX)" || return 1
  rootfs="$BUILD_DIR/rootfs"
  log "building $IMAGE: debootstrap $SUITE into $rootfs (log: $DEBOOTSTRAP_LOG; about a minute)"
  if ! debootstrap --variant=minbase \
      --include=python3,python3-venv,python3-pip,git,ca-certificates \
      "$SUITE" "$rootfs" "$MIRROR" >"$DEBOOTSTRAP_LOG" 2>&1; then
    show_log_tail "$DEBOOTSTRAP_LOG"
    log "debootstrap failed"
    return 1
  fi
  # Test-environment detail: outbound HTTPS on these machines goes through an
  # interception proxy whose CA is only in the host's bundle. Without it pip
  # inside image builds fails with CERTIFICATE_VERIFY_FAILED. gitexp itself
  # does not depend on this.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt" || return 1
  # A clean environment for the chroot: the host's PIP_*/SSL_* variables point
  # at host paths (wheel dirs, constraint files) that do not exist in there.
  if ! env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      chroot "$rootfs" python3 -m venv /opt/venv; then
    log "creating /opt/venv inside the rootfs failed"
    return 1
  fi
  # Downloaded .debs and apt lists only make the image bigger.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "importing rootfs as $IMAGE"
  if ! tar -C "$rootfs" -c . | docker import \
      -c "ENV PATH=$IMAGE_PATH" \
      -c 'ENV PYTHONUNBUFFERED=1' \
      - "$IMAGE" >/dev/null; then
    log "docker import failed"
    return 1
  fi
  remove_tree "$BUILD_DIR"
  BUILD_DIR=""
  log "built $IMAGE in $((SECONDS - start))s"
}

# --- step 4: verification ---------------------------------------------------

verify_image() {
  local out
  out="$(docker run --rm --network none "$IMAGE" python -c 'import sys; print(sys.version)' 2>&1)" \
    || die "python does not run in $IMAGE: $out (try --rebuild)"
  log "python in $IMAGE: ${out%%$'\n'*}"
  out="$(docker run --rm --network none "$IMAGE" pip --version 2>&1)" \
    || die "pip does not run in $IMAGE: $out (try --rebuild)"
  log "pip in $IMAGE: $out"
}

# Optional: a classic-builder build (what the Docker SDK's images.build uses)
# with host networking that installs a small package from PyPI. Reported, not
# fatal: PyPI may be unreachable for reasons outside this machine.
check_pip_build() {
  local build_log
  PIPCHECK_DIR="$(mktemp -d /tmp/gitexp-pipcheck.XXXXXX)"
  PIPCHECK_TAG="gitexp-docker-up-pipcheck:$$"
  build_log="$PIPCHECK_DIR/build.log"
  printf 'FROM %s\nRUN pip install --no-cache-dir six\n' "$IMAGE" >"$PIPCHECK_DIR/Dockerfile"
  log "--check-pip: classic build with --network host, pip install six"
  if DOCKER_BUILDKIT=0 docker build --network host --force-rm -q \
      -t "$PIPCHECK_TAG" "$PIPCHECK_DIR" >"$build_log" 2>&1; then
    log "--check-pip: pip install from PyPI inside an image build works"
    return 0
  fi
  echo "docker-up: WARNING: --check-pip failed: a build FROM $IMAGE could not pip install from PyPI. Build output:" >&2
  tail -n 30 "$build_log" >&2 || true
  if grep -q CERTIFICATE_VERIFY_FAILED "$build_log"; then
    echo "docker-up: hint: the image does not trust this machine's CA; rebuild it (--rebuild) so the host's /etc/ssl/certs/ca-certificates.crt is copied in" >&2
  fi
  return 1
}

main() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      --check-pip) CHECK_PIP=1 ;;
      --rebuild) REBUILD=1 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $arg" ;;
    esac
  done
  command -v docker >/dev/null 2>&1 || is_root \
    || { echo "docker-up: the docker client is not installed; run this script as root (sudo $0) to install Debian's docker.io" >&2; exit 1; }

  take_lock
  ensure_engine
  ensure_base_image
  verify_image
  if [ "$CHECK_PIP" -eq 1 ]; then
    check_pip_build || true
  fi
  echo "docker-up: engine ok, base image $IMAGE ok"
}

main "$@"
