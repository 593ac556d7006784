#!/bin/sh
# deploy/build-image.sh: write the build-stage pip configuration and CA bundle for `--secret` into $1 (a directory):
#   $1/pip.conf  the host's index settings that make sense inside a container: index-url,
#                extra-index-url, trusted-host, timeout, retries, proxy (file:// indexes, find-links
#                to host folders and host constraint files are left out: they don't exist in there)
#   $1/ca.crt    the CA bundle pip uses on the host (PIP_CERT, pip's cert, else the system one)
set -eu
out=$1; mkdir -p "$out"
python3 - "$out/pip.conf" <<'PY'
import subprocess, sys
lines = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout.splitlines()
keep = {"index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "retries", "proxy"}
conf = {}
for line in lines:                      # e.g. global.index-url='https://…'  or  :env:.timeout='180'
    key, _, value = line.partition("=")
    name = key.rsplit(".", 1)[-1]
    if name in keep:
        urls = [u for u in value.strip("'\"").split() if not u.startswith("file:")]
        if urls:
            conf[name] = " ".join(urls)
with open(sys.argv[1], "w") as f:
    f.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
PY
ca=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
[ -n "$ca" ] && [ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
cp "$ca" "$out/ca.crt"
