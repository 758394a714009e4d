#!/usr/bin/env bash
# Install the Debian packages LocoLLM builds against, if any are missing.
# Uses sudo when not run as root. Safe to run repeatedly.
#   scripts/deps.sh           what the build needs
#   scripts/deps.sh --tests   and what the tests drive: a headless browser
#                             (the web page's test), curl, python3's venv (the
#                             openai client's test); scripts/test.sh asks for it
set -euo pipefail
packages=(build-essential cmake pkg-config git ca-certificates
          libopenblas-dev libpcre2-dev libcurl4-openssl-dev libssl-dev libcjson-dev
          libzip-dev zlib1g-dev libyaml-dev libsqlite3-dev libmicrohttpd-dev python3 libcmocka-dev clang libclang-rt-14-dev)
if [ "${1:-}" = --tests ]; then
  packages+=(chromium curl python3-venv)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >&2
