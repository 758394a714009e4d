# tests/cli/lib-skip.sh - sourced by the CLI tests: skips, and has (below).
# A skipped script must not pass for a passed one: it exits 77, which CMake
# declares every test's SKIP_RETURN_CODE, so ctest lists it as skipped and
# counts it (tests/testutil.h does the same for the unit tests).
#   skip_all WHAT    nothing more can run without WHAT: exit now
#   skip_part WHAT   one part cannot run without WHAT: go on; test_done then
#                    exits 77
#   test_done        the script's last line: "ok", and 0, or 77 after a skip
# With LOCO_TEST_NO_SKIP=1 (set by CI, which has ../shared and the default
# model) every skip is a failure.
loco_skipped=0

skip_part() {
  if [ -n "${LOCO_TEST_NO_SKIP:-}" ] && [ "${LOCO_TEST_NO_SKIP}" != 0 ]; then
    echo "FAIL: skipped under LOCO_TEST_NO_SKIP=1: $*"
    exit 1
  fi
  echo "skipping: $*"
  loco_skipped=$((loco_skipped + 1))
}

skip_all() {
  skip_part "$@"
  exit 77
}

test_done() {
  if [ "$loco_skipped" -gt 0 ]; then
    echo "ok, but $loco_skipped part(s) skipped"
    exit 77
  fi
  echo "ok"
  exit 0
}

# has GREP-ARGS...  `grep -q GREP-ARGS` on the whole of stdin. grep -q
# stops reading at its first match; under `set -o pipefail` the writer
# then dies of SIGPIPE on its next write and the pipeline fails although
# the text matched (a race: it bit CI on a 6 KB `loco migrate` listing).
# has reads everything first. For a variable, `grep -q P <<<"$v"`.
has() {
  local text
  text=$(cat)
  grep -q "$@" <<<"$text"
}
