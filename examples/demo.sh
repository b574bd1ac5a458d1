#!/usr/bin/env bash
# The dv lifecycle demo, on the embedded default (a folder remote), in a
# temporary folder: import raw data, run an ETL step, add labels, train a
# model twice (the second from the run cache), ask the lineage of the
# model, push to a shared folder, pull in a teammate's clone byte for
# byte, and travel back in history. Needs Go and git; nothing else.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== building dv"
(cd "$here" && go build -o "$work/bin/dv" ./cmd/dv)
export PATH="$work/bin:$PATH" NO_COLOR=1
export GIT_AUTHOR_NAME="Ada Analyst" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Analyst" GIT_COMMITTER_EMAIL=ada@example.com
run() { echo; echo "\$ $*"; "$@"; }

cd "$work"
git init -q --bare origin.git
git clone -q origin.git ada 2>/dev/null
cd ada
git config user.name "Ada Analyst"; git config user.email ada@example.com

echo "== 1. framing: a project with a shared folder remote"
run dv init
run dv remote add shelf ../shelf --default

echo "== 2. data: import raw data (the source is recorded), an ETL step, labels"
mkdir -p "$work/source"
{ echo "field,lat,lon,soil,yield"
  for i in $(seq 1 2000); do echo "$i,$((RANDOM % 90)).$RANDOM,$((RANDOM % 180)).$RANDOM,$((RANDOM % 7)),$((RANDOM % 100))"; done
} >"$work/source/fields.csv"
run dv import "$work/source/fields.csv" raw/fields.csv
mkdir -p etl
cat >etl/clean.sh <<'SH'
#!/bin/sh
# ETL: keep fields with a known soil type, one file per soil type.
set -e
rm -rf curated && mkdir -p curated
awk -F, 'NR > 1 && $4 > 0 { print > ("curated/soil-" $4 ".csv") }' raw/fields.csv
SH
chmod +x etl/clean.sh
git add -A && git commit -qm "project, raw data, ETL script"
run dv run -n clean -d raw/fields.csv -o curated -- sh etl/clean.sh
mkdir -p labels
awk -F, 'NR > 1 { print $1 "," ($5 > 50 ? "good" : "poor") }' raw/fields.csv >labels/quality.csv
run dv add labels --labels-for curated --meta license=CC-BY-4.0 --meta pii=false --desc "agronomist quality labels"

echo "== 3. experiments: train (reproducibly), then again from the run cache"
cat >etl/train.sh <<'SH'
#!/bin/sh
# A stand-in trainer: the "model" summarises the curated data.
set -e
mkdir -p model
cat curated/*.csv | sort | cksum >model/weights.txt
echo "depth=${DV_PARAM_DEPTH}" >>model/weights.txt
n=$(cat curated/*.csv | wc -l)
printf '{"rmse": %s.%s, "revenue_per_ha": %s}\n' $((n % 3 + 1)) $((n % 97)) $((n / 10)) >metrics.json
SH
git add -A && git commit -qm "pipeline"
run dv train -n crop -d curated -d labels -p depth=6 -o model -M metrics.json -- sh etl/train.sh
run dv train -n crop -d curated -d labels -p depth=6 -o model -M metrics.json -- sh etl/train.sh
run dv runs
run dv metrics show crop

echo "== 4. provenance: which data, labels, parameters and code made the model?"
run dv lineage model
run dv lineage model --format mermaid
run dv log --limit 8
git add -A && git commit -qm "model v1"

echo "== 5. share: push to the folder remote; a teammate clones and pulls"
run dv push
git push -q origin HEAD
cd "$work"
git clone -q origin.git bob 2>/dev/null
cd bob
run dv pull
for d in raw curated labels model; do diff -r "$work/ada/$d" "$d"; done
echo "bob's raw/, curated/, labels/ and model/ are identical to ada's"
run dv pull

echo "== 6. time travel: back to the commit before the model"
run git checkout -q HEAD~1
run dv checkout
[ ! -e model ] || { echo "model/ should be gone" >&2; exit 1; }
run git checkout -q -
run dv checkout
run dv status
run dv fsck
run dv fsck -r shelf
echo
echo "== demo finished: every step above ran for real in $work"
