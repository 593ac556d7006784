# Source me: points podman/buildah at a private configuration and image store under $PB_STATE
# (default /var/tmp/paperboy-smoke). /etc/containers is left alone, so other podman users on the
# machine are unaffected. What each line is for (issue 19):
#   runc + cgroupfs   crun refuses a cgroup v1/v2 hybrid layout, and there may be no systemd
#   default_ulimits   the default open-file limit (1048576) is refused in some VMs
#   events_logger     "file": journald may be absent
#   network_config_dir  the stack's network definitions stay private to this store
PB_STATE="${PB_STATE:-/var/tmp/paperboy-smoke}"
mkdir -p "$PB_STATE/conf" "$PB_STATE/storage" "$PB_STATE/run" "$PB_STATE/tmp"
cat > "$PB_STATE/conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PB_STATE/run/events.log"
tmp_dir = "$PB_STATE/run/libpod"
[network]
network_config_dir = "$PB_STATE/conf/networks"
CONF
cat > "$PB_STATE/conf/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$PB_STATE/storage"
runroot = "$PB_STATE/run/storage"
CONF
export PB_STATE
export CONTAINERS_CONF="$PB_STATE/conf/containers.conf"
export CONTAINERS_STORAGE_CONF="$PB_STATE/conf/storage.conf"
export TMPDIR="$PB_STATE/tmp"   # podman build and import stage big files here
