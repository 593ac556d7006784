#!/bin/sh
# Paperboy's container smoke test (issue 19), with podman and podman-compose:
#   1. builds the image from deploy/Dockerfile (deploy/build-image.sh), on python:3.11-slim when
#      a registry is reachable, else on a local stand-in made with debootstrap (deploy/standins/);
#   2. checks the image alone: it refuses to start without a secret key, runs as uid 10001, and
#      the health check of the `web` role (on $PORT) and of the `scheduler` role passes;
#   3. starts docker-compose.yml (PostgreSQL, web+scheduler, two workers, the mail catcher);
#   4. subscribes one address through the web front, confirms it from the caught mail, sends the
#      digests, and checks that EXACTLY ONE digest arrived (also after a second send);
#   5. tears everything down. Exit 0 only when all of that held.
# Needs root. Installs podman & co with apt when missing, podman-compose from PyPI into a venv.
# Images and the store stay in $PB_STATE (default /var/tmp/paperboy-smoke) and are reused;
# FORCE=1 rebuilds them, CLEAN=1 removes $PB_STATE first, KEEP=1 leaves the stack running,
# STANDINS=1 uses the stand-ins even when a registry is reachable. Timings: $PB_STATE/timings.txt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
PB_STATE=${PB_STATE:-/var/tmp/paperboy-smoke}
export PB_STATE
if [ "${CLEAN:-0}" = 1 ] && [ -d "$PB_STATE" ]; then
  (. "$here/podman-env.sh" && podman system reset -f >/dev/null 2>&1) || true
  rm -rf "$PB_STATE"
fi
mkdir -p "$PB_STATE"
timings="$PB_STATE/timings.txt"; : > "$timings"
t_start=$(date +%s); t_last=$t_start
step() { now=$(date +%s); printf '%-26s %4s s\n' "$1" $((now - t_last)) | tee -a "$timings" >&2; t_last=$now; }
log() { echo "== $*" >&2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. tools (a fresh CI machine has none of them)
missing=""
for c in podman buildah runc debootstrap slirp4netns fuse-overlayfs newuidmap; do
  command -v $c >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
  log "installing with apt:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq podman buildah runc debootstrap slirp4netns fuse-overlayfs uidmap \
    netavark aardvark-dns >/dev/null
fi
# Debian 12's podman-compose (1.0.3) fails on `env_file: [{path, required}]`: use PyPI's.
pc="$PB_STATE/podman-compose/bin/podman-compose"
if [ ! -x "$pc" ]; then
  python3 -m venv "$PB_STATE/podman-compose"
  "$PB_STATE/podman-compose/bin/pip" install -q --disable-pip-version-check 'podman-compose==1.6.0'
fi
. "$here/podman-env.sh"
step "tools"

# 2. images: the registry's where one answers, else stand-ins built here
registry_reachable() {
  [ "${STANDINS:-0}" != 1 ] && python3 -c 'import urllib.request, urllib.error, sys
try: urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=5)
except urllib.error.HTTPError: sys.exit(0)   # 401: it answers
except Exception: sys.exit(1)' 2>/dev/null
}
if registry_reachable && podman pull -q docker.io/library/python:3.11.13-slim-bookworm >/dev/null \
   && podman pull -q docker.io/library/postgres:16.9-bookworm >/dev/null \
   && podman pull -q docker.io/axllent/mailpit:v1.22.3 >/dev/null; then
  base=docker.io/library/python:3.11.13-slim-bookworm
  export POSTGRES_IMAGE=docker.io/library/postgres:16.9-bookworm MAILPIT_IMAGE=docker.io/axllent/mailpit:v1.22.3
  log "registry reachable: real base images"
else
  log "no registry: local stand-ins (deploy/standins/build.sh)"
  "$here/standins/build.sh" >"$PB_STATE/standins.log" 2>&1 || { tail -30 "$PB_STATE/standins.log"; fail "stand-in images"; }
  base=localhost/python:3.11-slim
  export POSTGRES_IMAGE=localhost/postgres-standin:15 MAILPIT_IMAGE=localhost/mailcatcher:latest
fi
step "base images"
image=localhost/paperboy:smoke
BASE_IMAGE=$base "$here/build-image.sh" "$image" >"$PB_STATE/build-image.log" 2>&1 \
  || { tail -30 "$PB_STATE/build-image.log"; fail "image build"; }
tail -1 "$PB_STATE/build-image.log" >&2
step "app image"

# 3. the image alone
key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
out=$(podman run --rm --health-cmd none "$image" 2>&1) && fail "started without a secret key"
echo "$out" | grep -q PAPERBOY_SECRET_KEY || fail "no word of PAPERBOY_SECRET_KEY: $out"
healthy() {  # container, tries of 2 s: runs the image's HEALTHCHECK (no systemd runs it here)
  n=0
  until podman healthcheck run "$1" >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -lt "$2" ] || { podman logs "$1" 2>&1 | tail -20 >&2; return 1; }
    sleep 2
  done
}
alone=""
cleanup_alone() { for c in $alone; do podman rm -f "$c" >/dev/null 2>&1 || true; done; }
for role in web scheduler; do
  c=paperboy-smoke-$role; alone="$alone $c"
  podman rm -f "$c" >/dev/null 2>&1 || true
  # (podman logs "unable to get systemd connection" without systemd: harmless, kept out of sight)
  podman run -d --name "$c" --network none -e PAPERBOY_SECRET_KEY="$key" -e PORT=8123 "$image" "$role" \
    >/dev/null 2>"$PB_STATE/run-$role.log" || { cat "$PB_STATE/run-$role.log" >&2; fail "podman run $role"; }
done
trap cleanup_alone EXIT
for c in $alone; do healthy "$c" 60 || fail "$c never healthy"; done
[ "$(podman exec paperboy-smoke-web id -u)" = 10001 ] || fail "the image does not run as uid 10001"
podman exec paperboy-smoke-web python -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8123/healthz", timeout=5)' \
  || fail "the web role does not serve on \$PORT"
cleanup_alone; alone=""
step "image alone"

# 4. the stack
project=pbsmoke
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export PAPERBOY_IMAGE=$image PAPERBOY_SECRET_KEY=$key \
  PAPERBOY_PUBLISH=127.0.0.1:$(free_port) MAILPIT_UI_PUBLISH=127.0.0.1:$(free_port) MAILPIT_SMTP_PUBLISH=127.0.0.1:$(free_port)
compose() { (cd "$repo" && "$pc" -p "$project" -f docker-compose.yml -f deploy/smoke.compose.yml "$@"); }
down() {
  compose logs > "$PB_STATE/stack.log" 2>&1 || true
  compose down -v -t 5 >/dev/null 2>&1 || true
}
finish() {
  cleanup_alone
  if [ "${KEEP:-0}" = 1 ]; then log "KEEP=1: the stack is running; stop it with: . deploy/podman-env.sh && $pc -p $project -f docker-compose.yml -f deploy/smoke.compose.yml down -v"; else down; fi
}
down   # left over from an interrupted run
trap finish EXIT
compose up -d --no-build >"$PB_STATE/compose-up.log" 2>&1 || { cat "$PB_STATE/compose-up.log" >&2; fail "compose up"; }
web=${project}_paperboy_1
containers="${project}_db_1 $web ${project}_worker_1 ${project}_worker_2"
step "compose up"
for c in $containers; do healthy "$c" 90 || fail "$c not healthy"; done
for c in $(podman ps -a --format '{{.Names}}' | grep "^$project"); do
  echo "$c $(podman inspect --format '{{.State.Status}} restarts={{.RestartCount}}' "$c")"
done | tee "$PB_STATE/ps.txt" >&2
step "stack healthy"

# 5. a visitor subscribes and confirms; a digest goes out through the workers
podman exec "$web" paperboy ingest --sample --if-empty >/dev/null
address="smoke-$(date +%s)@example.org"
client() { podman exec -i "$web" python - "$@" < "$here/smoke_client.py"; }
client subscribe "$address" >&2 || fail "subscribe and confirm"
step "subscribe + confirm"
podman exec "$web" paperboy send --date "$(date -u +%F)" --json >&2
n=0; i=0
while [ "$n" -lt 1 ] && [ $i -lt 60 ]; do sleep 2; i=$((i + 1)); n=$(client count "$address" 2>/dev/null || echo 0); done
step "digest delivered"
# A second send must not deliver it again (the deliveries table), whatever the scheduler does.
podman exec "$web" paperboy send --date "$(date -u +%F)" --json >&2 || true
sleep 10
n=$(client count "$address")
step "second send + recount"
for c in $containers; do
  podman logs "$c" 2>&1 | grep -q UniqueViolation && fail "$c: UniqueViolation in its log (the migrations race)"
done
printf '%-26s %4s s\n' total $(( $(date +%s) - t_start )) | tee -a "$timings" >&2
[ "$n" = 1 ] || fail "$n digests reached $address (expected exactly one)"
echo "PASS: exactly one digest reached $address through the stack"
