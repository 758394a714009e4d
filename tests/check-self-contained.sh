#!/usr/bin/env bash
# Fails when code, tests, scripts or docs cite a document outside the
# repository for facts or rules: the team's fact sheet (notes/), STYLE.md,
# DESIGN.md, the seed roadmap, any .md file under shared/ (a data folder's
# MANIFEST.md included), or "facts sheet" sections. Those facts live in
# docs/ (docs/formats/, docs/model.md, docs/tokenizer.md, docs/generation.md,
# docs/style.md, docs/architecture.md); cite those. Reading DATA from
# ../shared (datasets, fixtures, $LOCO_SHARED_DIR) is fine and not matched.
set -u
root=${1:-.}
pattern='shared/notes|shared/seed|gguf-llama-facts|STYLE\.md|DESIGN\.md|shared/[^ )'"'"'"`]*\.md|[Ff]acts sheet|\b[Ff]acts,? (section )?[A-H]([.][0-9]+)?\b'
paths=()
for p in src cli include tests bench scripts docs recipes adapters data results .ci CMakeLists.txt README.md; do
  [ -e "$root/$p" ] && paths+=("$root/$p")
done
hits=$(grep -rnIE "$pattern" "${paths[@]}" 2>/dev/null | grep -v 'check-self-contained\.sh:')
if [ -n "$hits" ]; then
  echo "references to documents outside the repository (cite docs/ instead; see docs/style.md):"
  echo "$hits"
  exit 1
fi
echo "no references to documents outside the repository"
