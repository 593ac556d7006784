#!/bin/sh
# Local stand-ins for the registry images, where no registry is reachable. Only the Debian mirror
# apt already uses is needed (DEBIAN_MIRROR= another one):
#   localhost/debian:bookworm-minbase   debootstrap --variant=minbase, imported with `podman import`
#   localhost/python:3.11-slim          python:3.11-slim's stand-in: Debian's python3 + python3-venv
#   localhost/postgres-standin:15       postgres:16's: Debian's postgresql, the official first start
#   localhost/mailcatcher:latest        Mailpit's: aiosmtpd on :1025, the mail as JSON on :8025
# An image that already exists is kept (FORCE=1 rebuilds). Needs root, debootstrap and podman.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../podman-env.sh"
# The first Debian URI in the host's apt sources (deb822 "URIs:" or one-line "deb").
mirror=${DEBIAN_MIRROR:-$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | grep -m1 -E 'debian/?$|debian ' | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')}
mirror=${mirror:-http://deb.debian.org/debian}
fresh() { [ "${FORCE:-0}" = 1 ] || ! podman image exists "$1"; }

if fresh localhost/debian:bookworm-minbase; then
  echo "debootstrap from $mirror"
  root="$PB_STATE/rootfs"
  rm -rf "$root"
  nice -n 19 debootstrap --variant=minbase --components=main bookworm "$root" "$mirror" \
    > "$PB_STATE/debootstrap.log" 2>&1 || { tail -20 "$PB_STATE/debootstrap.log"; exit 1; }
  sec=$(echo "$mirror" | sed -E 's#/debian/?$#/debian-security#')
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$mirror" "$mirror" "$sec" > "$root/etc/apt/sources.list"
  printf 'Acquire::Check-Valid-Until "false";\n' > "$root/etc/apt/apt.conf.d/99no-valid-until"
  # As the official debian image: no docs, man pages or locales, no .debs or apt caches in a layer.
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n' \
    > "$root/etc/dpkg/dpkg.cfg.d/docker-slim"
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' > "$root/etc/apt/apt.conf.d/docker-clean"
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
  nice -n 19 tar -C "$root" --numeric-owner -cf - . | podman import \
    --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - localhost/debian:bookworm-minbase
  rm -rf "$root"
fi

build() {  # tag containerfile context
  if fresh "$1"; then
    nice -n 19 podman build --format docker --network host -t "$1" -f "$2" "$3"
  fi
}
build localhost/python:3.11-slim "$here/python-base.Containerfile" "$here"
build localhost/postgres-standin:15 "$here/postgres/Containerfile" "$here/postgres"
build localhost/mailcatcher:latest "$here/mailcatcher/Containerfile" "$here/mailcatcher"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'debian|python|postgres-standin|mailcatcher'
