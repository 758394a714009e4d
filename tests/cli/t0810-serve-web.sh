#!/usr/bin/env bash
# The web page of `loco serve` (web/index.html, docs/web.md), in a real browser:
#   1. the page names no external URL (no CDN, no font, no script from elsewhere);
#   2. with the default model and the project's code adapter, `loco serve
#      --port 0` answers GET / with the embedded page, byte for byte
#      web/index.html, as text/html;
#   3. headless Chromium opens /?q=...&send=1&model=loco:code: the answer
#      streams in (more than one server-sent event with text) and ends with
#      data-state="done", non-empty text and the badge naming the code
#      adapter; the adapter picker and the leaderboard are filled from the
#      server;
#   4. with --api-key, the page loads without a key but its question gets
#      401: data-state="error", the server's message, and the API key field;
#      the key typed there and the question sent again, the answer comes.
# Chromium's --dump-dom --virtual-time-budget does not wait for a streamed
# answer, so tests/cli/headless-page.py drives it over the DevTools pipe,
# waits for data-state, and keeps the DOM and a screenshot in
# BUILD/test-artifacts/t0810-serve-web/ (BUILD: the folder of $LOCO, or
# $LOCO_BINARY_DIR).
set -euo pipefail
: "${LOCO:?path to the loco binary}"
. "$(dirname "$0")/lib-skip.sh"
fail() { echo "FAIL: $*"; exit 1; }
export LOCO_NO_LOG=1
src=${LOCO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
page=$src/web/index.html
art=${LOCO_BINARY_DIR:-$(dirname "$LOCO")}/test-artifacts/t0810-serve-web
work=$(mktemp -d)
trap 'kill_server; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib-serve.sh"
command -v python3 >/dev/null ||
  skip_all "python3 (reads the page and drives the browser) not found"

# 1. no external URL: outside comments, no http(s)://, no //host, no @import or url()
python3 - "$page" <<'PY' || fail "web/index.html refers to something outside the server"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"<!--.*?-->", "", text, flags=re.S)            # HTML comments
text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)             # CSS and JS block comments
text = re.sub(r"(?m)^\s*//.*$", "", text)                     # JS line comments
bad = re.findall(r"https?://\S*|(?:src|href|action)\s*=\s*[\"']?//\S*|@import|url\(", text, re.I)
if bad:
    print("external references:", bad)
    sys.exit(1)
PY

model=$("$LOCO" models path default 2>/dev/null) || model=
if [ -z "$model" ] || [ ! -f "$model" ]; then
  skip_all "the default model is not in the model cache (loco models pull default)"
fi
[ -f "$src/adapters/code/code.gguf" ] || skip_all "$src/adapters/code/code.gguf not found"


# get PATH OUT: the body into OUT; prints "STATUS CONTENT-TYPE"
get() {
  python3 - "$base$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=60)
except urllib.error.HTTPError as e:
    r = e
open(sys.argv[2], "wb").write(r.read())
print(r.status, r.headers.get("Content-Type", ""))
PY
}

# 2. the page, as served
start_server --slots 2
[ "$(get /health "$work/health.json" | cut -d' ' -f1)" = 200 ] || fail "GET /health"
reply=$(get / "$work/page.html")
case "$reply" in "200 text/html"*) ;; *) fail "GET /: $reply";; esac
cmp -s "$work/page.html" "$page" ||
  fail "GET / is not web/index.html ($(wc -c < "$work/page.html") bytes)"

chromium=${LOCO_CHROMIUM:-$(command -v chromium || command -v chromium-browser ||
                            command -v google-chrome || true)}
if [ -z "$chromium" ]; then
  skip_part "chromium not found (set LOCO_CHROMIUM to a Chromium or Chrome)"
  test_done
fi
rm -rf "$art"
mkdir -p "$art"
answer='document.querySelector("[data-testid=answer]")'
finished="$answer && $answer.dataset.state !== \"streaming\""

# browse NAME QUERY [STEPS...]: opens $base/?QUERY until the answer is
# finished, then the headless-page.py STEPS (--do JS, --until JS); keeps
# $art/NAME.html (the DOM) and $art/NAME.png (the screenshot)
browse() {
  local name=$1 query=$2
  shift 2
  mkdir -p "$work/profile-$name"
  python3 "$src/tests/cli/headless-page.py" "$base/?$query" --until "$finished" "$@" \
    --chromium "$chromium" --user-data-dir "$work/profile-$name" \
    --dom "$art/$name.html" --screenshot "$art/$name.png" 2> "$work/browser-$name.err" ||
    { cat "$work/browser-$name.err" "$work/profile-$name/chromium.log" "$work/serve.err" |
        tail -n 40;
      fail "the page did not finish its answer ($art/$name.html)"; }
  [ -s "$art/$name.png" ] || fail "no screenshot $art/$name.png"
  [ "$(head -c 8 "$art/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "$art/$name.png is not a PNG"
}

# check_dom FILE PYTHON: runs the assertions PYTHON on the elements of the
# dumped DOM: by_id[ID] and by_test[TESTID] are (attributes, text) pairs
check_dom() {
  python3 - "$1" "$2" <<'PY'
import sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.open, self.by_id, self.by_test, self.rows, self.answers = [], {}, {}, 0, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and self.open and any(t == "tbody" for t, _, _ in self.open):
            self.rows += 1
        if tag not in VOID:
            self.open.append((tag, a, []))
    def handle_endtag(self, tag):
        while self.open:
            t, a, text = self.open.pop()
            s = "".join(text)
            if self.open:
                self.open[-1][2].append(s)
            if "id" in a: self.by_id[a["id"]] = (a, s)
            if "data-testid" in a: self.by_test[a["data-testid"]] = (a, s)
            if a.get("data-testid") == "answer": self.answers.append((a, s))
            if t == tag:
                break
    def handle_data(self, data):
        if self.open:
            self.open[-1][2].append(data)
d = Dom()
d.feed(open(sys.argv[1], encoding="utf-8").read())
by_id, by_test, rows = d.by_id, d.by_test, d.rows
try:
    exec(sys.argv[2])
except AssertionError as e:
    print(f"{sys.argv[1]}: {e}")
    sys.exit(1)
PY
}

# 3. a question to the code adapter, streamed into the page
question="Write%20a%20Python%20function%20that%20adds%20two%20numbers."
browse answer "q=$question&send=1&model=loco:code&max_tokens=24&temperature=0"
check_dom "$art/answer.html" '
a, text = by_test["answer"]
error = by_test.get("error")
assert a.get("data-state") == "done", f"answer {a}, error {error}"
assert text.strip(), "empty answer"
assert int(a.get("data-chunks", 0)) > 1, f"the answer did not stream: {a}"
badge = by_test["adapter-badge"][1]
assert badge.split()[0] == "code", f"badge {badge!r}"
assert error is None, error
models = by_id["model"][1]
assert "base model" in models, f"adapter picker {models!r}"
status = by_id["board-status"][1]
assert rows > 0, f"leaderboard rows {rows}: {status!r}"
' || fail "the answer page ($art/answer.html)"
echo "answer page: ok (screenshot $art/answer.png)"
stop_server

# 4. with an API key: the page still loads, the question gets 401 and the key field
start_server --slots 2 --api-key t0810-key
[ "$(get / "$work/page.html" | cut -d' ' -f1)" = 200 ] || fail "GET / needs no key"
[ "$(get /v1/models "$work/models.json" | cut -d' ' -f1)" = 401 ] ||
  fail "/v1/models without the key"
# the first answer fails; then the key goes into the field, the question
# (back in the box) is sent again, and the second answer comes
second='document.querySelectorAll("[data-testid=answer]")[1]'
browse key "q=Hello&send=1&max_tokens=8" \
  --do '{ const box = document.getElementById("keybox");
          box.dataset.wasShown = !box.hidden;
          box.dataset.questionBack = document.getElementById("prompt").value === "Hello";
          document.getElementById("apikey").value = "t0810-key";
          document.getElementById("apikey-save").click();
          document.getElementById("composer").requestSubmit(); }' \
  --until "$second && $second.dataset.state !== \"streaming\""
check_dom "$art/key.html" '
first, second = [e for e in d.answers]
assert first[0].get("data-state") == "error", first
err = by_test["error"][1]
assert "401" in err, f"error text {err!r}"
assert second[0].get("data-state") == "done" and second[1].strip(), f"with the key: {second}"
box = by_id["keybox"][0]
assert box.get("data-was-shown") == "true", "no API key field after the 401"
assert box.get("data-question-back") == "true", "the failed question is not back in the box"
assert "hidden" in box, "the API key field stays after the key was saved"
' || fail "the page without its key, then with it ($art/key.html)"
echo "page without the API key, then with it: ok (screenshot $art/key.png)"
test_done
