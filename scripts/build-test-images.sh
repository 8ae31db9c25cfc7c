#!/usr/bin/env bash
# Build the Docker images the Docker tests deploy, locally: Docker Hub cannot
# be pulled here.
#
#   1. a Debian bookworm rootfs per image from debootstrap (--variant=minbase
#      --include=<the image's packages>), slimmed, tarred and cached;
#   2. `docker import` of that tarball as the image's base;
#   3. `docker build` of tests/images/<name> on that base.
#
# Every image carries the label org.alfred-tui.content-hash: a hash of all
# its inputs (package list, Dockerfile, entrypoint, stand-in code, Python
# wheels). An image whose label matches is not rebuilt, so a second run with
# unchanged inputs builds nothing.
#
# Images (override the prefix with ALFRED_TEST_IMAGE_PREFIX):
#   alfred-tui-test/postgres:15        PostgreSQL 15, official-image-like entrypoint
#   alfred-tui-test/redis:7            redis-server, redis-cli, redis-check-rdb
#   alfred-tui-test/qdrant-standin:1   the Qdrant stand-in (tests/qdrant_standin)
#   alfred-tui-test/python3:3.11       python3 alone: the bastion the one-file build runs on
#
# Environment:
#   ALFRED_TEST_IMAGE_CACHE  cache folder (default /var/cache/alfred-tui-test-images
#                            as root, else ~/.cache/alfred-tui/test-images)
#   DEBIAN_MIRROR            mirror for debootstrap (default: this machine's apt source)
#   PYTHON                   Python whose pip installs the stand-in's packages (python3)
#   QDRANT_STANDIN_DIR       the stand-in's code (default tests/qdrant_standin)
#
# Usage: scripts/build-test-images.sh [postgres] [redis] [qdrant-standin] [python3]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=bookworm
PREFIX=${ALFRED_TEST_IMAGE_PREFIX:-alfred-tui-test}
PYTHON=${PYTHON:-python3}
STANDIN_DIR=${QDRANT_STANDIN_DIR:-$ROOT/tests/qdrant_standin}
HASH_LABEL=org.alfred-tui.content-hash
# The classic builder: it needs no buildx plugin and works with vfs.
export DOCKER_BUILDKIT=0

if [[ -n ${ALFRED_TEST_IMAGE_CACHE:-} ]]; then
  CACHE=$ALFRED_TEST_IMAGE_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  CACHE=/var/cache/alfred-tui-test-images
else
  CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/alfred-tui/test-images
fi
mkdir -p "$CACHE/debs" "$CACHE/rootfs" "$CACHE/wheels"

say() { printf 'build-test-images: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(grep -hoE '^URIs: *\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | head -1 | awk '{print $2}') || true
  [[ -z $uri ]] && uri=$(grep -hoE '^deb +\S+/debian/? ' /etc/apt/sources.list 2>/dev/null \
    | head -1 | awk '{print $2}') || true
  echo "${uri:-http://deb.debian.org/debian}"
}

sha() { sha256sum | cut -c1-16; }

# Packages and image folder of each image.
declare -A PACKAGES=(
  [postgres]="postgresql-15"
  [redis]="redis-server"
  [qdrant-standin]="python3 curl"
  [python3]="python3"
)
declare -A TAGS=(
  [postgres]="$PREFIX/postgres:15"
  [redis]="$PREFIX/redis:7"
  [qdrant-standin]="$PREFIX/qdrant-standin:1"
  [python3]="$PREFIX/python3:3.11"
)

# What is removed from every rootfs to keep images small: the vfs storage
# driver copies a whole image for every container.
SLIM_PATHS=(
  var/cache/apt var/lib/apt/lists usr/share/doc usr/share/man usr/share/info
  usr/share/locale usr/share/lintian var/log
  # Debian's postinst made a cluster we never use; the entrypoint makes its own.
  var/lib/postgresql/15 etc/postgresql/15
  # JIT only: PostgreSQL runs without it (jit falls back to off).
  'usr/lib/x86_64-linux-gnu/libLLVM-*' usr/lib/postgresql/15/lib/llvmjit.so
  usr/lib/postgresql/15/lib/llvmjit_types.bc usr/lib/postgresql/15/lib/bitcode
)

#: Bump when the way a rootfs is made changes (the tarball cache is keyed on it).
ROOTFS_RECIPE=2

# rootfs NAME -> prints the path of the cached rootfs tarball (builds it once).
rootfs() {
  local name=$1 packages=${PACKAGES[$1]} key tarball dir started
  key=$(printf '%s|%s|%s|%s' "$ROOTFS_RECIPE" "$SUITE" "$packages" "${SLIM_PATHS[*]}" | sha)
  tarball=$CACHE/rootfs/$name-$SUITE-$key.tar
  if [[ -s $tarball ]]; then
    echo "$tarball"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  dir=$(mktemp -d "$CACHE/rootfs/.build-$name-XXXXXX")
  started=$SECONDS
  say "debootstrap $SUITE for $name (+ ${packages// /, }) from $(mirror)"
  if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs" \
      --include="${packages// /,}" "$SUITE" "$dir" "$(mirror)" >"$dir.log" 2>&1; then
    tail -20 "$dir.log" >&2
    rm -rf "$dir"
    die "debootstrap failed for $name (log above; full log in $dir.log)"
  fi
  local path
  for path in "${SLIM_PATHS[@]}"; do
    # shellcheck disable=SC2086 # globs in SLIM_PATHS are meant to expand
    rm -rf "$dir"/$path
  done
  mkdir -p "$dir/var/log" "$dir/var/lib/apt/lists/partial" "$dir/var/cache/apt/archives/partial"
  chmod 755 "$dir" # mktemp made it 0700: the image's / must be traversable by every user
  tar --numeric-owner -C "$dir" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$dir" "$dir.log"
  say "rootfs $name: $(du -h "$tarball" | cut -f1) in $((SECONDS - started)) s"
  echo "$tarball"
}

# standin_packages -> prints a folder of the stand-in's Python packages,
# installed (from PyPI or the configured wheel dirs) for the image's Python.
standin_packages() {
  local requirements version key target
  if [[ -f $STANDIN_DIR/requirements.txt ]]; then
    requirements=$(grep -vE '^\s*(#|$)' "$STANDIN_DIR/requirements.txt")
  else
    version=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("qdrant-client"))' \
      2>/dev/null) || version=""
    requirements="qdrant-client${version:+==$version}"
  fi
  # Wheels for the image's Python (Debian bookworm: CPython 3.11, glibc 2.36),
  # whatever Python this machine runs.
  local target_flags=(--python-version 3.11 --implementation cp --abi cp311 --abi abi3
    --abi none --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 --platform any --only-binary=:all:)
  key=$(printf '%s|%s' "$requirements" "${target_flags[*]}" | sha)
  target=$CACHE/wheels/site-packages-$key
  if [[ ! -d $target ]]; then
    say "installing the stand-in's packages: $(echo $requirements)"
    # shellcheck disable=SC2086 # one requirement per word
    rm -rf "$target.partial"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
      "${target_flags[@]}" --target "$target.partial" $requirements >&2 \
      || die "pip could not install: $requirements"
    mv "$target.partial" "$target"
  fi
  echo "$target"
}

# context_hash DIR -> hash of every file's path and content under DIR.
context_hash() {
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha
}

image_hash() {
  docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

declare -a REPORT=()

build() {
  local name=$1 tag=${TAGS[$1]} started=$SECONDS tarball base context hash
  tarball=$(rootfs "$name")
  base="$PREFIX/rootfs-$name:$(basename "$tarball" .tar | rev | cut -d- -f1 | rev)"
  context=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the folder of this call
  trap "rm -rf '$context'" RETURN
  cp -a "$ROOT/tests/images/$name/." "$context/"
  if [[ $name == qdrant-standin ]]; then
    [[ -f $STANDIN_DIR/__main__.py ]] \
      || die "the Qdrant stand-in is missing ($STANDIN_DIR/__main__.py)"
    cp -a "$(standin_packages)" "$context/site-packages"
    mkdir -p "$context/qdrant_standin"
    cp -a "$STANDIN_DIR/." "$context/qdrant_standin/"
    find "$context/qdrant_standin" -name __pycache__ -prune -exec rm -rf '{}' +
  fi
  hash=$( (basename "$tarball"; context_hash "$context") | sha)
  if [[ $(image_hash "$tag") == "$hash" ]]; then
    REPORT+=("$(printf '%-40s %-10s %5s s' "$tag" "cached" "$((SECONDS - started))")")
    return
  fi
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    say "docker import $base"
    docker import --message "debootstrap $SUITE minbase + ${PACKAGES[$name]}" \
      "$tarball" "$base" >/dev/null
  fi
  local previous
  previous=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null) || previous=""
  say "docker build $tag"
  local output
  # The classic builder warns that it is deprecated on every run: show its
  # output only when the build fails.
  if ! output=$(docker build --quiet --build-arg "BASE=$base" --label "$HASH_LABEL=$hash" \
      --label "org.alfred-tui.test-image=$name" -t "$tag" "$context" 2>&1); then
    printf '%s\n' "$output" | tail -20 >&2
    die "docker build failed for $tag"
  fi
  # The image this one replaces is now untagged; drop it unless a container uses it.
  if [[ -n $previous && $previous != "$(docker image inspect -f '{{.Id}}' "$tag")" ]]; then
    docker image rm "$previous" >/dev/null 2>&1 || true
  fi
  REPORT+=("$(printf '%-40s %-10s %5s s' "$tag" "built" "$((SECONDS - started))")")
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd, or run scripts/run-tests.sh)"

wanted=("$@")
((${#wanted[@]})) || wanted=(postgres redis qdrant-standin python3)
for name in "${wanted[@]}"; do
  [[ -n ${PACKAGES[$name]:-} ]] || die "unknown image '$name' (postgres, redis, qdrant-standin, python3)"
  if [[ $name == qdrant-standin && ! -f $STANDIN_DIR/__main__.py ]]; then
    REPORT+=("$(printf '%-40s %-10s' "${TAGS[$name]}" "skipped: no $STANDIN_DIR")")
    continue
  fi
  build "$name"
done

{
  printf '%-40s %-10s %7s\n' IMAGE RESULT TIME
  printf '%s\n' "${REPORT[@]}"
  printf '(scripts/build-test-images.sh %s; cache %s)\n' "${wanted[*]}" "$CACHE"
} >&2
