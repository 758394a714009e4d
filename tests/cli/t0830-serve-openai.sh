#!/usr/bin/env bash
# `loco serve` driven by the official openai Python client (tests/cli/serve-openai.py):
#   1. models.list() has loco; chat.completions.create answers with text,
#      usage, finish_reason and the extra loco object; the same request
#      streamed (stream_options.include_usage) joins into the same greedy
#      text and ends with the usage chunk; completions.create answers; an
#      unknown model is openai.NotFoundError or BadRequestError naming it;
#   2. a server with --api-key: no key and a wrong key are
#      openai.AuthenticationError, the key gets answers.
# The client lives in a virtual environment kept beside the binary
# (BUILD/openai-venv, BUILD: the folder of $LOCO, or $LOCO_BINARY_DIR) so
# reruns do not reinstall it. Skips without the default model, without
# python3's venv module (Debian: python3-venv) or when pip cannot install
# openai (no PyPI access).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1
here=$(cd "$(dirname "$0")" && pwd)
venv=${LOCO_BINARY_DIR:-$(dirname "$LOCO")}/openai-venv
work=$(mktemp -d)
trap 'kill_server; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib-serve.sh"

model=$("$LOCO" models path default 2>/dev/null) || model=
[ -n "$model" ] && [ -f "$model" ] ||
  skip_all "the default model is not in the model cache (loco models pull default)"
command -v python3 >/dev/null || skip_all "python3 not found"

# the openai client, installed once
if ! "$venv/bin/python" -c "import openai" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" > "$work/venv.log" 2>&1 ||
    { cat "$work/venv.log"; skip_all "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check openai \
    > "$work/pip.log" 2>&1 ||
    { tail -n 5 "$work/pip.log"; rm -rf "$venv"; skip_all "pip could not install openai (no PyPI access?)"; }
fi
echo "openai $("$venv/bin/python" -c 'import openai; print(openai.__version__)')"


# 1. the API without a key
start_server --slots 2
"$venv/bin/python" "$here/serve-openai.py" "$base" api ||
  { tail -n 20 "$work/serve.err"; fail "the openai client against loco serve"; }
stop_server

# 2. with --api-key
start_server --slots 2 --api-key t0830-key
"$venv/bin/python" "$here/serve-openai.py" "$base" auth t0830-key ||
  { tail -n 20 "$work/serve.err"; fail "the openai client against loco serve --api-key"; }
stop_server
test_done
