#!/usr/bin/env bash
# loco adapters install: from a path, a URL with --sha256, an adapter index
# (by --index, LOCO_ADAPTER_INDEX and the registry's `index:`), a bundle
# .zip, hf: references (a stand-in site via LOCO_HF_URL) and a PEFT folder;
# --dry-run and --json; and each refusal (bad hash, wrong size, wrong base,
# hostile archive, interrupted download) leaving the adapters folder and the
# user overlay as they were; `loco adapters remove --delete-file` undoes an
# install. The adapter is the shipped math one (the PEFT part also needs
# the default model); the registry, the user data folder and the HTTP
# server (tests/cli/install-server.py, on 127.0.0.1) are temporary: nothing
# reaches beyond the machine.
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/lib-skip.sh"
command -v python3 >/dev/null || skip_all "python3 (the loopback HTTP server) not found"
adapter="$src/adapters/math/math.gguf"
[ -f "$adapter" ] || fail "$adapter is missing from the checkout"
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
unset LOCO_ADAPTERS_DIR LOCO_ADAPTER_INDEX LOCO_PROJECT_DIR
export XDG_DATA_HOME=$tmp/data LOCO_REGISTRY=$tmp/proj/adapters/registry.yaml
adir=$XDG_DATA_HOME/locollm/adapters overlay=$XDG_DATA_HOME/locollm/registry.yaml
mkdir -p "$tmp/proj/adapters" "$tmp/www" "$adir"
base=$(python3 -c 'import re,sys; print(re.search(r"sha256: ([0-9a-f]{64})", open(sys.argv[1]).read()).group(1))' "$src/adapters/registry.yaml")
other=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
registry() { # BASE [EXTRA-LINE]
  cat >"$LOCO_REGISTRY" <<YAML
schema_version: 2
base_model: {name: SmolLM2-135M-Instruct, file: SmolLM2-135M-Instruct.Q4_1.gguf, sha256: $1, architecture: llama, academic_year: "2026"}
domains:
  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}
adapters: []
${2:-}
YAML
}
registry "$base"
sha=$(sha256sum "$adapter" | cut -d' ' -f1)
size=$(stat -c %s "$adapter")

# the served files: the adapter, an index, a bundle, a hostile bundle
cp "$adapter" "$tmp/www/math.gguf"
python3 - "$tmp/www" "$sha" "$size" "$base" "$other" <<'PY'
import json, sys, zipfile
www, sha, size, base, other = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def entry(name, **kw):
    e = {"name": name, "domain": "math", "base_sha256": base, "url": "math.gguf",
         "sha256": sha, "size": size, "license": "Apache-2.0",
         "record": {"benchmark": "gsm8k", "score": 0.41, "passed": True}}
    e.update(kw)
    return e
index = {"version": 1, "adapters": [
    entry("math-shared"),
    entry("math-badsize", size=size - 1),
    entry("math-bigsize", size=size + 1),
    entry("math-badhash", sha256="0" * 64),
    entry("math-otherbase", base_sha256=other),
    entry("math-cut", url="cut/math.gguf")]}
json.dump(index, open(www + "/index.json", "w"))
# the layout `loco adapters pack` writes: manifest.json at the top
entry_yaml = {"name": "bundled", "domain": "math", "version": "2.1.0",
              "provenance": {"data": "GSM8K train", "semester": "2026-S2", "seed": 7,
                             "authors": ["Ada"]},
              "router": {"keywords": ["sum"], "examples": ["What is 2+2?"]}}
with zipfile.ZipFile(www + "/bundle.zip", "w") as z:
    z.write(www + "/math.gguf", "adapters/bundled/bundled.gguf")
    z.writestr("adapters/bundled/TRAINING_LOG.md", "# log\n")
    z.writestr("manifest.json", json.dumps(
        {"format": "locollm-bundle-1", "name": "bundled", "domain": "math",
         "base_sha256": base, "adapter_sha256": sha, "registry_entry": entry_yaml,
         "files": [{"path": "adapters/bundled/bundled.gguf", "sha256": sha, "size": size,
                    "role": "adapter"}]}))
import warnings
warnings.simplefilter("ignore")  # zipfile warns about the duplicate below
with zipfile.ZipFile(www + "/twice.zip", "w") as z:
    z.writestr("a.gguf", "GGUF one")
    z.writestr("a.gguf", "GGUF two")
with zipfile.ZipFile(www + "/evil.zip", "w") as z:
    z.write(www + "/math.gguf", "evil.gguf")
    z.writestr("../../evil-escaped", "gotcha")
PY

python3 "$(dirname "$0")/install-server.py" "$tmp/www" >"$tmp/port" &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(head -1 "$tmp/port")
[ -n "$port" ] || fail "the loopback server did not start"
url=http://127.0.0.1:$port

# what an install must not leave behind: the folder's names and the overlay
state() { ls -A "$adir"; echo "--"; cat "$overlay" 2>/dev/null || echo "(no overlay)"; }
files() { ls -A "$adir"; }
refused() { # WHAT EXPECTED-MESSAGE ARGS...: fails, says so, changes nothing
  local what=$1 says=$2; shift 2
  local before; before=$(state)
  if "$LOCO" adapters install "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$what: accepted"; fi
  grep -q -- "$says" "$tmp/err" || fail "$what: message: $(cat "$tmp/err")"
  [ "$(state)" = "$before" ] || fail "$what: left something behind: $(state)"
}
initial=$(files)

# 1. a local file: --dry-run changes nothing, then the install, then remove
before=$(state)
out=$("$LOCO" adapters install "$adapter" --dry-run)
case "$out" in *"dry run"*"install    $adir/math.gguf"*"register   math in $overlay"*) ;; *) fail "dry run: $out";; esac
[ "$(state)" = "$before" ] || fail "--dry-run changed something"
out=$("$LOCO" adapters install "$adapter")
case "$out" in *"installed: math"*"sha256     $sha"*) ;; *) fail "install from a path: $out";; esac
[ -f "$adir/math.gguf" ] || fail "no $adir/math.gguf"
"$LOCO" adapters list | has -E '^math +math +1.0.0 +candidate.*\(user\)' || fail "not listed: $("$LOCO" adapters list)"
"$LOCO" registry validate --merged >/dev/null || fail "merged registry invalid: $("$LOCO" registry validate --merged)"
refused "a second install of a name" "already in the registry" "$adapter"
"$LOCO" adapters remove math --delete-file >/dev/null
[ "$(files)" = "$initial" ] || fail "remove left: $(files)"

# 2. a URL pinned with --sha256; a wrong pin and a cut download are refused
refused "a wrong --sha256" "hashes to $sha" "$url/math.gguf" --sha256 "$other" --name math-url
refused "an interrupted download" "nothing was installed" "$url/cut/math.gguf" --sha256 "$sha" --name math-url
out=$("$LOCO" adapters install "$url/math.gguf" --sha256 "$sha" --name math-url --json)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["name"]=="math-url" and d["kind"]=="url" and d["sha256"]==sys.argv[1], d' "$sha" \
  || fail "--json: $out"
"$LOCO" adapters remove math-url --delete-file >/dev/null

# 3. an index: by --index, refusals from its size, hash and base
refused "a smaller size" "sends more than $((size - 1)) bytes" math-badsize --index "$url/index.json"
refused "a larger size" "the index says $((size + 1))" math-bigsize --index "$url/index.json"
refused "a wrong sha256" "expected 0000" math-badhash --index "$url/index.json"
refused "another base" "retrain" math-otherbase --index "$url/index.json"
refused "an interrupted index download" "nothing was installed" math-cut --index "$url/index.json"
refused "an unknown name" "it lists: math-shared" nope --index "$url/index.json"
refused "no index at all" "add \`index: URL\` to the registry" math-shared
out=$("$LOCO" adapters install math-shared --index "$url/index.json" --dry-run --json)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["dry_run"] and d["expect_size"]==int(sys.argv[1]) and d["source"].endswith("/math.gguf"), d' "$size" \
  || fail "dry run --json: $out"
out=$("$LOCO" adapters install math-shared --index "$url/index.json")
case "$out" in *"installed: math-shared"*"license    Apache-2.0"*) ;; *) fail "index install: $out";; esac
"$LOCO" adapters remove math-shared --delete-file >/dev/null
# the registry's `index:` key, and LOCO_ADAPTER_INDEX
registry "$base" "index: $url/index.json"
"$LOCO" adapters install math-shared >/dev/null || fail "install through the registry's index"
"$LOCO" adapters remove math-shared --delete-file >/dev/null
registry "$base"
LOCO_ADAPTER_INDEX=$url/index.json "$LOCO" adapters install math-shared >/dev/null \
  || fail "install through LOCO_ADAPTER_INDEX"
"$LOCO" adapters remove math-shared --delete-file >/dev/null

# 4. bundles: a good one by URL, a hostile one refused
out=$("$LOCO" adapters install "$url/bundle.zip")
case "$out" in *"installed: bundled"*"bundle.zip (url)"*) ;; *) fail "bundle: $out";; esac
out=$("$LOCO" adapters info bundled)
case "$out" in *"version      2.1.0"*"seed         7"*"authors      Ada"*"keywords     sum"*) ;; *) fail "bundle entry: $out";; esac
"$LOCO" adapters remove bundled --delete-file >/dev/null
cp "$tmp/www/evil.zip" "$tmp/evil.zip"
refused "a hostile archive" "leaves the folder" "$tmp/evil.zip"
refused "a name twice in an archive" "twice.zip is not a readable zip: File already exists" "$url/twice.zip"
cp "$tmp/www/bundle.zip" "$tmp/bundle.tar.gz"
refused "a .tar.gz bundle" "reads .zip" "$tmp/bundle.tar.gz"
[ ! -e "$XDG_DATA_HOME/locollm/evil-escaped" ] && [ ! -e "$XDG_DATA_HOME/evil-escaped" ] \
  || fail "the hostile entry was written"

# 5. hf: references, against a stand-in for the Hugging Face site (LOCO_HF_URL)
mkdir -p "$tmp/www/api/models/ada" "$tmp/www/ada/math-lora/resolve/main"
cp "$adapter" "$tmp/www/ada/math-lora/resolve/main/adapter.gguf"
echo '{"siblings": [{"rfilename": "README.md"}, {"rfilename": "adapter.gguf"}]}' >"$tmp/www/api/models/ada/math-lora"
export LOCO_HF_URL=$url
out=$("$LOCO" adapters install hf:ada/math-lora/adapter.gguf --sha256 "$sha" --name math-hf --dry-run)
case "$out" in *"source     $url/ada/math-lora/resolve/main/adapter.gguf (hf)"*) ;; *) fail "hf dry run: $out";; esac
"$LOCO" adapters install hf:ada/math-lora --name math-hf >/dev/null || fail "hf: repo with one .gguf"
"$LOCO" adapters remove math-hf --delete-file >/dev/null
refused "a hf: reference that climbs" "not a Hugging Face reference" "hf:ada/../x"
unset LOCO_HF_URL

# 6. the base: this registry's base differs from the adapter's
registry "$other"
refused "an adapter for another base" "retrain it on that base with \`loco train\`" "$adapter"
registry "$base"

# 7. a PEFT folder (the math adapter exported) is imported for the default model
if "$LOCO" models info default >/dev/null 2>&1; then
  "$LOCO" adapters export "$adapter" --format peft --model default -o "$tmp/peft" >/dev/null
  out=$("$LOCO" adapters install "$tmp/peft" --name math-peft --domain math)
  case "$out" in *"installed: math-peft"*"(peft)"*"lora       rank 16, alpha 32"*) ;; *) fail "PEFT install: $out";; esac
  "$LOCO" registry validate --merged >/dev/null || fail "merged registry after the PEFT install"
  "$LOCO" adapters remove math-peft --delete-file >/dev/null
  # the same PEFT pair as a hf: repo without a .gguf
  mkdir -p "$tmp/www/ada/peft-lora/resolve/main"
  cp "$tmp/peft/"* "$tmp/www/ada/peft-lora/resolve/main/"
  echo '{"siblings": [{"rfilename": "adapter_config.json"}, {"rfilename": "adapter_model.safetensors"}]}' >"$tmp/www/api/models/ada/peft-lora"
  out=$(LOCO_HF_URL=$url "$LOCO" adapters install hf:ada/peft-lora --name math-hfpeft --domain math)
  case "$out" in *"installed: math-hfpeft"*"(hf)"*) ;; *) fail "hf: PEFT install: $out";; esac
  "$LOCO" adapters remove math-hfpeft --delete-file >/dev/null
else
  skip_part "the PEFT import: the default model is not in the model cache (loco models pull default)"
fi

# 8. a killed install's staging folder is removed by the next install
mkdir -p "$adir/.install-killed" && echo partial >"$adir/.install-killed/download"
"$LOCO" adapters install "$adapter" --name math-again >/dev/null
[ ! -e "$adir/.install-killed" ] || fail "stale staging folder kept"
"$LOCO" adapters remove math-again --delete-file >/dev/null
[ "$(files)" = "$initial" ] || fail "files left at the end: $(files)"

test_done
