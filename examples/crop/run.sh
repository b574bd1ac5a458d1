#!/usr/bin/env bash
# The crop-quality story: dv through the whole lifecycle of one model, on
# realistic synthetic data (examples/crop), in a temporary folder, with a
# folder remote. Needs nothing but Go and git.
#
# A farm cooperative in Sweden wants to know, before the season, which
# fields are worth planting. Tractor GPS readings, a soil survey per region
# and the quality grades of field inspections go in; a gradient-boosted
# model predicts each field's grade; planting only where it predicts a
# profit is the business case. Then season 2 arrives, wetter, with new
# land on new soil, and the model has to be watched, retrained, gated,
# shipped, rolled back and audited.
#
# Every step prints its commands and their output, then one line (->)
# saying what happened and why it matters. Each step's exit code and key
# outcome are checked; the script exits non-zero at the first surprise.
# DV_STORY_FACTS=FILE writes the outcomes as key=value lines (the
# integration test reads them); DV_STORY_DIR=DIR works there instead of a
# new temporary folder.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
work="${DV_STORY_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/dv-crop.XXXXXX")}"
facts="${DV_STORY_FACTS:-/dev/null}"
: >"$facts"
start=$SECONDS
n=0

step() { n=$((n + 1)); printf '\n== %d. %s\n' "$n" "$*"; }
says() { printf -- '-> %s\n' "$*"; }
fact() { printf '%s=%s\n' "$1" "$2" >>"$facts"; }
fail() { printf '\nSTORY FAILED at step %d: %s\n(everything is in %s)\n' "$n" "$*" "$work" >&2; exit 1; }
# run WANT CMD...: show and run CMD, keep its output in $out, and fail
# unless it exits WANT.
run() {
  local want=$1 rc=0
  shift
  printf '$ %s\n' "$*"
  out=$("$@" 2>&1) || rc=$?
  [ -z "$out" ] || printf '%s\n' "$out"
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"
}
# has TEXT: the last command's output holds TEXT (a grep -E pattern).
has() { grep -Eq -- "$1" <<<"$out" || fail "expected '$1' in the output above"; }
# holder: the version (vN) holding crop@production.
holder() { dv models crop 2>/dev/null | sed -nE 's/^alias production: (v[0-9]+) .*/\1/p'; }

echo "== 0. building dv and the crop example (examples/crop) into $work/bin"
mkdir -p "$work/bin"
(cd "$here" && go build -o "$work/bin/dv" ./cmd/dv && go build -o "$work/bin/crop" ./examples/crop)
export PATH="$work/bin:$PATH" NO_COLOR=1
missing=""
for c in import run train promote models drift retrain export metrics rollback lineage log report; do
  dv help "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -z "$missing" ] || fail "this dv has no command:$missing"
export GIT_AUTHOR_NAME="Ada Agronomist" GIT_AUTHOR_EMAIL=ada@coop.example
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
cd "$work"
portal="$work/portal" # the cooperative's data portal: what exports arrive from
crop gen -seed 7 -seasons 1 -o "$portal/season1"
crop gen -seed 7 -seasons 2 -o "$portal/season2"
crop gen -seed 7 -seasons 3 -o "$portal/season3"
git init -q --bare origin.git
git clone -q origin.git ada 2>/dev/null
cd ada
git config user.name "Ada Agronomist" && git config user.email ada@coop.example
# The trainer's code lives in the project, so every run records the commit of the code that ran.
mkdir crop && cp "$here"/examples/crop/{main,gen,etl,gbm,train}.go crop/
printf 'module crop-quality\n\ngo 1.26\n' >go.mod

step "framing: the goal, the KPI and the promotion rules, written down in dv.yaml"
run 0 dv init -q
cat >dv.yaml <<'YAML'
version: 1
project: crop-quality
goal: Predict the quality grade of each field's crop from GPS and soil data, to choose which fields to plant.
kpi:                      # the business metric: SEK per hectare gained by planting only where the model says
  name: revenue_per_ha
  direction: higher
metrics:
  primary: rmse           # grade points, on fields the trainer never saw
promotion:
  alias: production
  criteria:
    - metric: rmse
      direction: lower
      threshold: 2.0                  # never ship a model worse than this
      min_relative_improvement: 0.02  # a new model must be at least 2 % better than production
    - metric: rmse
      direction: lower
      slices: all                     # ... and no soil type may get worse by more than 0.05
      max_regression: 0.05
      min_rows: 200
    - metric: revenue_per_ha
      direction: higher
      max_regression: 50              # nor may the business case lose more than 50 SEK/ha
drift:
  threshold: 0.1
  dataset_share: 0.5
retrain:
  on: [new-data, drift, metrics]
YAML
run 0 dv remote add shelf ../shelf --default
git add -A && git commit -qm "frame the crop-quality problem; the crop trainer"
cat dv.yaml | sed -n '3,8p'
says "the goal, the KPI (revenue_per_ha) and the rules a model must pass are in git, next to the code: no one promotes by gut feeling"

step "data: import season 1 (GPS export and soil survey), with their sources recorded"
run 0 dv import "file://$portal/season1/gps.csv" raw/gps.csv
mkdir -p raw && cp -r "$portal/season1/soil" raw/soil
run 0 dv add raw/soil --meta source=coop-portal/soil-survey --meta license=internal --desc "soil survey and season weather per field, one file per region"
says "raw data is versioned and its origin is on record: an auditor can ask where any number came from"

step "ETL: clean and join GPS and soil data with dv run (inputs pinned, output versioned)"
git add -A && git commit -qm "season 1 raw data"
commit_etl1=$(git rev-parse --short=8 HEAD)
run 0 dv run -n etl -d raw/gps.csv -d raw/soil -o curated/fields.csv -- go run ./crop etl -gps raw/gps.csv -soil raw/soil -o curated/fields.csv
has 'broken'
has 'duplicates'
says "broken rows, duplicates and GPS outliers are dropped by recorded code; curated/fields.csv is a new version that knows its inputs"

step "labels: the field inspections' quality grades, tied to the curated dataset"
mkdir -p labels && cp "$portal/season1/grades.csv" labels/grades.csv
run 0 dv add labels/grades.csv --labels-for curated/fields.csv --meta license=internal --meta pii=false --desc "quality grades 0-10 from field inspections"
git add -A && git commit -qm "season 1 curated data and labels"
says "labels are versioned on their own and linked to the data they describe"

train() { # train PARAMS...: the training command, as a teammate would type it
  run 0 dv train -n crop -d curated/fields.csv -d labels/grades.csv "$@" -o model/crop.json -M metrics.json -- \
    go run ./crop train -data curated/fields.csv -labels labels/grades.csv -model model/crop.json -metrics metrics.json
}

step "training: a first model, v1 (gradient-boosted trees, 100 rounds)"
commit_v1=$(git rev-parse --short=8 HEAD)
train -p rounds=100
has 'rmse = '
has 'slices.soil=clay.rmse'
git add -A && git commit -qm "crop model v1"
says "the model, its metrics (overall, per soil type, revenue_per_ha), params, data versions and commit are one record"

step "promotion: v1 becomes the first production model (no baseline yet: only the absolute threshold applies)"
run 0 dv promote crop
fact promote_v1 0
[ "$(holder)" = v1 ] || fail "production should be v1, is '$(holder)'"
says "production is now crop@v1; the decision is the first link of a tamper-evident chain"

step "sharing: push data, models and records to the team's folder remote"
run 0 dv push
git push -q origin HEAD 2>/dev/null
says "a teammate can now get every byte and every record; nothing lives only on Ada's laptop"

step "season 2 arrives: a wet, grey year, and the cooperative took up new land (peat, heavy clay)"
run 0 dv import --update "file://$portal/season2/gps.csv" raw/gps.csv
rm -rf raw/soil && cp -r "$portal/season2/soil" raw/soil
run 0 dv add raw/soil
git add -A && git commit -qm "season 2 raw data"
run 0 dv run -n etl -d raw/gps.csv -d raw/soil -o curated/fields.csv -- go run ./crop etl -gps raw/gps.csv -soil raw/soil -o curated/fields.csv
cp "$portal/season2/grades.csv" labels/grades.csv
run 0 dv add labels/grades.csv --labels-for curated/fields.csv
git add -A && git commit -qm "season 2 curated data and labels"
says "same ETL, new inputs: curated/fields.csv v2 now holds both seasons"

step "monitoring: is the new data like the data production was trained on?"
run 5 dv drift --reference crop@production --current curated/fields.csv --columns lat,lon,soil,ph,area_ha,sun_hours,rain_mm
drifted=$(awk '$1 ~ /^(lat|lon|soil|ph|area_ha|sun_hours|rain_mm)$/ && $NF == "yes" { print $1 }' <<<"$out" | sort | paste -sd, -)
fact drift_exit 5
fact drifted "$drifted"
[ "$drifted" = "ph,rain_mm,soil,sun_hours" ] || fail "expected ph, rain_mm, soil and sun_hours to drift, got '$drifted'"
says "dv drift exits 5: rain, sun hours, the soil mix and pH moved (field positions and sizes did not); the check is recorded"

step "which models need attention, and why?"
run 0 dv status --stale
has 'crop'
has 'drift'
says "production was trained on data that has a newer version and that drifted: it is stale, with the reasons named"

step "retraining: the production run again, on the newest data, with more rounds for twice the data"
run 0 dv retrain crop -p rounds=300
git add -A && git commit -qm "crop model v2 (retrained on seasons 1-2)"
says "v2's run record names v1's run and the drift check that made it necessary"

step "gate: does v2 beat production by the rules in dv.yaml?"
run 0 dv promote crop
fact promote_v2 0
[ "$(holder)" = v2 ] || fail "production should be v2, is '$(holder)'"
fact holder_after_v2 v2
says "v2 is better overall, in every soil type the baseline had, and on revenue: promoted (peat is new, so its slice is skipped, not passed)"

step "an experiment: deeper trees with bigger leaves (depth=5, min_leaf=500, 400 rounds)"
train -p rounds=400 -p depth=5 -p min_leaf=500
git add -A && git commit -qm "crop model v3: deeper trees, bigger leaves"
run 4 dv promote crop
fact promote_v3 4
has 'soil=peat'
[ "$(holder)" = v2 ] || fail "production should still be v2, is '$(holder)'"
says "v3 is better on average, but worse on peat fields (leaves of 500 rows cannot tell peat fields apart by pH): rejected, exit 4, and the table names the slice"

step "packaging: the production model as an OCI artifact (CNCF ModelPack), and as a tar"
mkdir -p "$work/export"
run 0 dv export crop@production --format oci -o "$work/export/crop-oci"
[ -f "$work/export/crop-oci/index.json" ] || fail "no OCI index.json"
run 0 dv export crop@production --format tar -o "$work/export/crop.tar"
says "a deterministic, self-describing bundle: model files plus a manifest with digests, metrics and lineage"

step "production feedback: season 3's inspections scored against what production predicted"
crop etl -gps "$portal/season3/gps.csv" -soil "$portal/season3/soil" -o "$work/feedback/fields.csv" >/dev/null
mkdir -p "$work/feedback/bundle" && tar -xf "$work/export/crop.tar" -C "$work/feedback/bundle"
prod_model=$(find "$work/feedback/bundle" -name crop.json | head -n 1)
[ -n "$prod_model" ] || fail "the tar bundle holds no crop.json"
# Inspections come in through the season: a third of the fields by mid-August, all by the end of September.
for obs in 0.33:2027-08-15 1:2027-09-30; do
  scores=$(crop eval -model "$prod_model" -data "$work/feedback/fields.csv" -labels "$portal/season3/grades.csv" -season 3 -share "${obs%%:*}")
  echo "season 3, inspections up to ${obs#*:}: $scores"
  rmse=$(sed -nE 's/.*rmse=([0-9.]+).*/\1/p' <<<"$scores")
  rev=$(sed -nE 's/.*revenue_per_ha=(-?[0-9.]+).*/\1/p' <<<"$scores")
  run 0 dv metrics log crop@production rmse="$rmse" revenue_per_ha="$rev" --time "${obs#*:}T12:00:00Z"
  has 'production metrics recorded on version v2'
done
says "how the model does in the field is recorded on the version that made the predictions"

step "a problem: the season-2 soil survey's pH probe was miscalibrated; production goes back to v1 until it is fixed"
run 0 dv rollback crop
[ "$(holder)" = v1 ] || fail "production should be v1 after the rollback, is '$(holder)'"
fact holder_final v1
says "one command gives production back to its previous holder, recorded with who and when"

step "audit: what is in production, what made it, and what happened to it?"
run 0 dv models crop
has 'alias production: v1'
has 'rolled-back'
run 0 dv lineage crop@production
for want in 'import raw/gps.csv' 'season1/gps.csv' 'dataset raw/soil' 'labels labels/grades.csv' 'run etl' 'run crop' "$commit_etl1" "$commit_v1" 'params: rounds=100'; do
  has "$want"
done
run 0 dv log --limit 14
has 'promot'
has 'drift'
says "every version with its metrics and the alias's full history; the lineage names the season-1 GPS import, soil survey, labels, ETL run, training run and their commits; the log lists every decision"

step "a teammate clones, pulls and reproduces the latest experiment byte for byte"
run 0 dv push
git push -q origin HEAD 2>/dev/null
cd "$work"
git clone -q origin.git bo 2>/dev/null
cd bo
git config user.name "Bo Berg" && git config user.email bo@coop.example
run 0 dv pull
cp model/crop.json "$work/pulled-v3.json"
run 0 dv train -n crop -d curated/fields.csv -d labels/grades.csv -p rounds=400 -p depth=5 -p min_leaf=500 --force \
  -o model/crop.json -M metrics.json -- go run ./crop train -data curated/fields.csv -labels labels/grades.csv -model model/crop.json -metrics metrics.json
cmp -s model/crop.json "$work/pulled-v3.json" || fail "the teammate's model differs from the pulled one"
fact reproduced yes
says "same code, same data, same params: the same model, bit for bit, on another machine's clone"

step "report: one page with the lineage graph, metrics across versions, alias history, drift and production metrics"
cd "$work/ada"
run 0 dv report crop -o "$work/report.html"
grep -q '<svg id="lineage"' "$work/report.html" || fail "the report has no lineage graph"
fact report "$work/report.html"
says "a static page anyone can open, no server needed"

elapsed=$((SECONDS - start))
fact seconds "$elapsed"
printf '\n== the story ran for real in %d s; everything is in %s\n' "$elapsed" "$work"
printf '   open the report: %s\n' "$work/report.html"
