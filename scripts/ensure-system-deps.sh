#!/usr/bin/env bash
# Install the Debian packages alfred-tui needs, only those that are missing.
#   runtime: PostgreSQL and Redis server binaries for the local backend
#   test:    runtime + tmux (end-to-end UI test), docker.io and debootstrap (Docker tests),
#            docker-registry (a loopback registry for the image-pull test),
#            chromium and chromium-driver (alfred-tui serve in a real browser), openssl
#            (the serve test's self-signed certificate),
#            zsh and fish (the shell completion tests run them), sqlite3 (recordings are
#            read back with the plain sqlite3 shell)
set -euo pipefail
mode=${1:-runtime}
want=(postgresql redis-server)
if [[ $mode == test ]]; then
  want+=(tmux docker.io debootstrap docker-registry hyperfine chromium chromium-driver openssl
    zsh fish sqlite3)
fi
# python3 -m venv needs ensurepip, which Debian ships separately.
if ! python3 -c "import ensurepip" 2>/dev/null; then
  want+=(python3-venv)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
