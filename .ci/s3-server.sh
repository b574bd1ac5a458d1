#!/usr/bin/env bash
# Installs (once) and starts versitygw v1.8.0 (Apache-2.0, posix backend) on
# loopback for the S3 tests. Source it from a bash script running with
# `set -euo pipefail`; it exports DV_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY and AWS_REGION, and stops the server on exit.
# Adapted from shared/s3-test-server.sh. Needs go, curl and ss.
VGW_VERSION=v1.8.0
VGW_BIN="$(go env GOPATH)/bin/versitygw"
if ! go version -m "$VGW_BIN" 2>/dev/null | grep -q "mod[[:space:]]*github.com/versity/versitygw[[:space:]]*$VGW_VERSION"; then
  echo "installing versitygw $VGW_VERSION (about a minute)..." >&2
  GOBIN="$(go env GOPATH)/bin" CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION"
fi
DV_S3_PORT="${DV_S3_PORT:-7070}"
export DV_S3_ENDPOINT="http://127.0.0.1:$DV_S3_PORT"
export AWS_ACCESS_KEY_ID=dvtestkey AWS_SECRET_ACCESS_KEY=dvtestsecret AWS_REGION=us-east-1
export DV_VERSITYGW="$VGW_BIN"
S3_ROOT="$(mktemp -d)"
ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY" \
  "$VGW_BIN" --port "127.0.0.1:$DV_S3_PORT" --health /healthz --keep-alive --quiet \
  posix "$S3_ROOT" >"$S3_ROOT.log" 2>&1 &
VGW_PID=$!
trap 'kill "$VGW_PID" 2>/dev/null; wait "$VGW_PID" 2>/dev/null; rm -rf "$S3_ROOT" "$S3_ROOT.log"' EXIT
VGW_READY=
for _ in $(seq 1 100); do   # ready = our pid owns the port AND /healthz answers 200
  kill -0 "$VGW_PID" 2>/dev/null || break
  if ss -ltnpH "sport = :$DV_S3_PORT" | grep -q "pid=$VGW_PID," &&
     curl -fsS -o /dev/null "$DV_S3_ENDPOINT/healthz" 2>/dev/null; then VGW_READY=1; break; fi
  sleep 0.1
done
[ -n "$VGW_READY" ] || { echo "versitygw did not start:" >&2; cat "$S3_ROOT.log" >&2; exit 1; }
