#!/usr/bin/env bash
# loco adapters pack / verify and scripts/check-submission.sh
# (docs/sharing.md): the shipped `code` adapter (its records are in
# results/2026-S2/) packs into a bundle that verifies; one byte changed in
# a file fails the files check naming it; a record with a plan whose n the
# run did not reach fails the gate, one it reached passes; the shipped
# `math` adapter (its gate failed) fails the gate; hostile zips (an entry
# with '..', an absolute path, a symlink) are refused without writing
# anything outside the private temporary folder; pack refuses what it
# cannot pack; check-submission.sh passes a folder with the good bundle and
# fails one with the bad, using $LOCO (it builds nothing here).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
src="${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
. "$(dirname "$0")/lib-skip.sh"
command -v python3 >/dev/null || skip_all "python3 not found (it rewrites zips here)"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOCO_PROJECT_DIR="$src" XDG_DATA_HOME="$tmp/xdg" LOCO_ADAPTERS_DIR="$tmp/xdg-adapters"
mkdir -p "$tmp/private" "$tmp/work"
export TMPDIR="$tmp/private"
cd "$tmp/work"

# ---- pack and verify the code adapter ----
out=$("$LOCO" adapters pack code -o "$tmp/code.zip")
echo "$out"
case "$out" in *"packed: $tmp/code.zip (10 files"*) ;; *) fail "no 'packed:' line";; esac
python3 - "$tmp/code.zip" <<'PY'
import json, sys, zipfile, hashlib
z = zipfile.ZipFile(sys.argv[1])
m = json.loads(z.read("manifest.json"))
assert m["format"] == "locollm-bundle/1" and m["name"] == "code" and m["domain"] == "code", m
assert m["adapter_sha256"] == "727e67ef8842e1db3d934c38dc2ae0123d1b5eff7bdd0a063221d3f627382008"
names = sorted(f["path"] for f in m["files"])
assert names == sorted(n for n in z.namelist() if n != "manifest.json"), names
for f in m["files"]:
    data = z.read(f["path"])
    assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"], f["path"]
e = m["registry_entry"]
assert e["file"] == "code/code.gguf" and e["status"] == "candidate", e
assert e["provenance"]["recipe"] == "../recipes/code.yaml", e["provenance"]
assert {s["record"] for s in e["scores"]} == {"../results/2026-S2/code-mbpp.json",
                                              "../results/2026-S2/code-ood.json"}
PY
out=$("$LOCO" adapters verify "$tmp/code.zip") || fail "verify of the code bundle failed: $out"
echo "$out"
for want in "PASS archive" "PASS files" "PASS base" "PASS registry" "WARN gate" \
            "PASS out-of-domain" "gsm8k uninformative" "PASS contamination" "PASS reports" \
            "WARN training-log" "ok: every required check passed"; do
  case "$out" in *"$want"*) ;; *) fail "verify output lacks '$want'";; esac
done
"$LOCO" adapters verify --json "$tmp/code.zip" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] is True and r["name"] == "code", r
assert {c["name"]: c["status"] for c in r["checks"]}["files"] == "PASS"'
[ -z "$(ls -A "$tmp/private")" ] || fail "verify left files in its temporary folder"

# ---- rewrite a bundle: python3 rebuild.py IN OUT MODE ----
cat >"$tmp/rebuild.py" <<'PY'
import hashlib, json, sys, zipfile
src, dst, mode = sys.argv[1:4]
z = zipfile.ZipFile(src)
files = {n: z.read(n) for n in z.namelist()}
rec = "results/2026-S2/code-mbpp.json"
if mode == "tamper":          # one byte of the training log, manifest untouched
    d = bytearray(files["adapters/code/TRAINING_LOG.md"]); d[10] ^= 1
    files["adapters/code/TRAINING_LOG.md"] = bytes(d)
else:                         # plan-N: a plan for mbpp, manifest made consistent
    n = int(mode.split("-")[1])
    r = json.loads(files[rec])
    r["plan"] = {"date": "2026-11-26T00:00:00Z", "alpha": 0.05, "power": 0.8,
                 "benchmarks": [{"benchmark": "mbpp", "gate": "superiority", "planned_n": n}]}
    b = r["benchmarks"][0]
    r["run"] = 1
    r["runs"] = [{"run": 1, "date": r["date"], "benchmarks": [
        {"benchmark": "mbpp", "n_used": b["n_used"], "verdict": b["verdict"], "why": b["why"]}]}]
    files[rec] = json.dumps(r).encode()
    m = json.loads(files["manifest.json"])
    for f in m["files"]:
        if f["path"] == rec:
            f["sha256"] = hashlib.sha256(files[rec]).hexdigest(); f["size"] = len(files[rec])
    files["manifest.json"] = json.dumps(m).encode()
with zipfile.ZipFile(dst, "w") as out:
    for n, d in files.items():
        out.writestr(n, d)
PY
python3 "$tmp/rebuild.py" "$tmp/code.zip" "$tmp/tampered.zip" tamper
if out=$("$LOCO" adapters verify "$tmp/tampered.zip"); then fail "a tampered bundle verified"; fi
echo "$out"
case "$out" in *"FAIL files"*"adapters/code/TRAINING_LOG.md does not match the manifest"*) ;;
  *) fail "the tampered file is not named";; esac

python3 "$tmp/rebuild.py" "$tmp/code.zip" "$tmp/plan-high.zip" plan-294
if out=$("$LOCO" adapters verify "$tmp/plan-high.zip"); then fail "n below the plan verified"; fi
case "$out" in *"FAIL gate"*"below the planned n = 294"*) ;; *) fail "no planned-n failure: $out";; esac
python3 "$tmp/rebuild.py" "$tmp/code.zip" "$tmp/plan-ok.zip" plan-150
out=$("$LOCO" adapters verify "$tmp/plan-ok.zip") || fail "a planned n reached did not verify: $out"
case "$out" in *"PASS gate"*"on n = 171, planned n = 150"*) ;; *) fail "no planned-n pass: $out";; esac

# ---- the math adapter failed its gate ----
"$LOCO" adapters pack math -o "$tmp/math.zip" >/dev/null
if out=$("$LOCO" adapters verify "$tmp/math.zip"); then fail "the math bundle verified"; fi
echo "$out"
case "$out" in *"PASS files"*"FAIL gate"*"gsm8k: FAIL on the superiority gate"*"not ok"*) ;;
  *) fail "the math bundle does not fail on its gate";; esac

# ---- hostile zips ----
python3 - "$tmp" <<'PY'
import sys, zipfile
t = sys.argv[1]
with zipfile.ZipFile(t + "/dotdot.zip", "w") as z:
    z.writestr("manifest.json", "{}")
    z.writestr("../../evil-dotdot.txt", "x")
with zipfile.ZipFile(t + "/absolute.zip", "w") as z:
    z.writestr(t + "/evil-absolute.txt", "x")
with zipfile.ZipFile(t + "/symlink.zip", "w") as z:
    i = zipfile.ZipInfo("adapters/code/code.gguf")
    i.create_system = 3
    i.external_attr = 0o120777 << 16
    z.writestr(i, "/etc/passwd")
PY
for h in dotdot absolute symlink; do
  if out=$("$LOCO" adapters verify "$tmp/$h.zip"); then fail "$h.zip verified"; fi
  echo "$out"
  case "$out" in *"FAIL archive"*) ;; *) fail "$h.zip not refused as an archive";; esac
done
[ ! -e "$tmp/evil-dotdot.txt" ] && [ ! -e "$tmp/../evil-dotdot.txt" ] && [ ! -e "$tmp/evil-absolute.txt" ] \
  || fail "a hostile entry was written"
[ -z "$(ls -A "$tmp/private")" ] || fail "a refused bundle left files behind"

# ---- pack's refusals and default name ----
if out=$("$LOCO" adapters pack no-such-adapter 2>&1); then fail "an unknown adapter packed"; fi
case "$out" in *"cannot pack"*) ;; *) fail "no refusal: $out";; esac
"$LOCO" adapters pack code >/dev/null
[ -f "$tmp/work/code.zip" ] || fail "pack without -o did not write code.zip here"
ls "$tmp/work" | has tmp- && fail "pack left a temporary file"

# ---- the one local command CI runs ----
mkdir "$tmp/good" "$tmp/bad"
cp "$tmp/code.zip" "$tmp/good/"
cp "$tmp/code.zip" "$tmp/math.zip" "$tmp/bad/"
out=$(LOCO="$LOCO" bash "$src/scripts/check-submission.sh" "$tmp/good") \
  || fail "check-submission.sh failed on the good bundle: $out"
case "$out" in *"registry validate"*"ok: "*"check-submission: ok (1 bundle(s))"*) ;; *) fail "check-submission output: $out";; esac
if LOCO="$LOCO" bash "$src/scripts/check-submission.sh" "$tmp/bad" >"$tmp/bad.out" 2>&1; then
  fail "check-submission.sh passed a folder with the math bundle"
fi
grep -q "failed: .*math.zip" "$tmp/bad.out" || fail "check-submission.sh does not name the bad bundle"
test_done
