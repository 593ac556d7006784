#!/bin/sh
# Build the Paperboy image with podman from this repository's deploy/Dockerfile:
#   deploy/build-image.sh [TAG]          (default localhost/paperboy:smoke)
# BASE_IMAGE= the Python base (default python:3.11.13-slim-bookworm; deploy/smoke.sh passes the
# local stand-in where no registry is reachable). The host's pip index configuration and CA
# bundle go to the build stage as build secrets (deploy/pip-secrets.sh), never into a layer.
# --format docker keeps the HEALTHCHECK; --network host lets pip reach the index.
# The build is skipped when nothing it reads changed (a label holds a hash of the inputs: podman
# 4.3 re-hashes the 300 MB virtualenv even when every layer is cached). FORCE=1 rebuilds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$here/podman-env.sh"
tag=${1:-localhost/paperboy:smoke}
base=${BASE_IMAGE:-python:3.11.13-slim-bookworm}
# The build context: what the Dockerfile copies, nothing else (as .dockerignore would leave it).
ctx="$PB_STATE/ctx"
rm -rf "$ctx"; mkdir -p "$ctx/deploy"
(cd "$repo" && cp -r pyproject.toml README.md alembic.ini service templates alembic "$ctx/")
(cd "$repo/deploy" && cp Dockerfile constraints.txt entrypoint.sh healthcheck.py "$ctx/deploy/")
find "$ctx" -name __pycache__ -prune -exec rm -rf {} +
"$here/pip-secrets.sh" "$PB_STATE/secrets"
inputs=$( (cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum; podman image inspect --format '{{.Id}}' "$base") | sha256sum | cut -c1-16)
if [ "${FORCE:-0}" != 1 ] && [ "$(podman image inspect --format '{{index .Config.Labels "paperboy.inputs"}}' "$tag" 2>/dev/null)" = "$inputs" ]; then
  echo "$tag is up to date ($inputs)"; exit 0
fi
set -- --format docker --network host --build-arg BASE_IMAGE="$base" -f "$ctx/deploy/Dockerfile" \
  --secret id=pip.conf,src="$PB_STATE/secrets/pip.conf" --secret id=ca.crt,src="$PB_STATE/secrets/ca.crt"
# The build stage is tagged too, so that pruning the previous image keeps its layer cache.
nice -n 19 podman build "$@" --target build -t localhost/paperboy-build:latest "$ctx"
nice -n 19 podman build "$@" --label paperboy.inputs="$inputs" -t "$tag" "$ctx"
podman image prune -f >/dev/null 2>&1 || true
podman image inspect "$tag" --format "$tag: {{.Size}} bytes; healthcheck {{.Config.Healthcheck.Test}}"
