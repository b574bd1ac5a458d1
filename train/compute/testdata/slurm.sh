#!/bin/sh
# dv job: run crop/model at commit 0123456789abcdef0123456789abcdef01234567 (dv run --on gpu)
#SBATCH --job-name=dv-crop-model
#SBATCH --output=/home/ana/crop/.dv/jobs/gpu/dv-crop-model-%j.log
#SBATCH --partition=gpu
#SBATCH --time=02:00:00
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --account=ml
#SBATCH --qos=normal
set -eu
work=$(mktemp -d "${TMPDIR:-/tmp}/dv-job.XXXXXX")
trap 'rm -rf "$work"' EXIT
git clone --quiet --no-checkout git@git.example:ml/crop.git "$work/src"
cd "$work/src"
git -c advice.detachedHead=false checkout --quiet 0123456789abcdef0123456789abcdef01234567
dv job --spec eyJ2ZXJzaW9uIjoxLCJ0YXJnZXQiOiJncHUiLCJlbmdpbmUiOiJzbHVybSIsIm5hbWUiOiJjcm9wL21vZGVsIiwiY29tbWFuZCI6WyJweXRob24zIiwidHJhaW4ucHkiLCItLWxyIiwiaXQncyJdLCJkZXBzIjpbImRhdGEvZmllbGRzIl0sIm91dHMiOlsibW9kZWwiXSwicGFyYW1zIjp7ImRlcHRoIjoiNiIsImxyIjoiMC4xIn0sIm1vZGVsIjp7Im5hbWUiOiJjcm9wIiwicGF0aCI6Im1vZGVsIiwibWV0cmljc19maWxlIjoibWV0cmljcy5qc29uIn0sImNvbW1pdCI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1NjciLCJjYWNoZV9rZXkiOiJhYjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIiwicmVtb3RlIjoic2hlbGYiLCJyZW1vdGVfdXJsIjoiL3Nydi9kdi9zaGVsZiJ9
