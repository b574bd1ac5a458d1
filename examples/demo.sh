#!/usr/bin/env bash
# The dv demo: builds dv, then in a temporary folder versions a dataset
# through two commits, travels back in history and verifies every byte.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== building dv"
(cd "$here" && go build -o "$work/bin/dv" ./cmd/dv)
export PATH="$work/bin:$PATH"
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
cd "$work" && mkdir project && cd project
run() { echo "\$ $*"; "$@"; }

run git init -q -b main
run dv init
mkdir -p data/fields data/soil
for i in $(seq 1 200); do
  printf 'field,lat,lon,yield\n' >"data/fields/f$i.csv"
  for r in $(seq 1 50); do echo "$i,$((RANDOM%90)).$RANDOM,$((RANDOM%180)).$RANDOM,$RANDOM" >>"data/fields/f$i.csv"; done
done
head -c 3000000 /dev/urandom >data/soil/scan.bin
echo "Grüße" >"data/soil/notes-ü.txt"
run dv add data --meta license=CC-BY-4.0 --desc "field yields and soil scans"
run git add -A && git commit -qm "data v1"
cp -a data "$work/v1"

echo "== editing: one file changed, one deleted, one added, one renamed"
echo "201,1.0,2.0,3" >>data/fields/f1.csv
rm data/fields/f2.csv
echo new >data/fields/new.csv
mv data/fields/f3.csv data/fields/f3-renamed.csv
run dv status || true
run dv diff
run dv add data
run git commit -qam "data v2"
run dv diff HEAD~1 HEAD

echo "== back to v1"
run git checkout -q HEAD~1
run dv checkout
diff -r "$work/v1" data && echo "data/ is identical to v1"
run git checkout -q main
run dv checkout
run dv fsck
run dv gc --all-commits --dry-run
echo "== demo finished"
