#!/usr/bin/env bash
# Make sure this controller can run local systemd test hosts: a Docker engine that answers and
# a Debian image with systemd as PID 1, built offline from Debian packages (no registry needed).
#
#   tools/testhost.sh [SUITE]      SUITE: bookworm (default) or trixie
#
# Every step is skipped when already done; the image is rebuilt only when its recipe changes
# (the tag carries a hash of this script and of the apt/CA settings it copies in).
# Prints the image name on the last line of stdout.
set -euo pipefail

suite=${1:-bookworm}
repo_name=asgi-uvicorn-testhost
dockerd_log=/var/log/asgi-uvicorn-dockerd.log

say() { echo "testhost: $*" >&2; }
die() { echo "testhost: ERROR: $*" >&2; exit 1; }

case "$suite" in
  bookworm | trixie) ;;
  *) die "unknown SUITE '$suite': use bookworm (Debian 12) or trixie (Debian 13)" ;;
esac

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

# Steps 1 and 2 hold a lock: make builds both images at once, and two apt-get runs or two
# dockerd started together fail on a fresh machine (dockerd must not inherit the lock).
exec 9>"${TMPDIR:-/tmp}/asgi-uvicorn-testhost.lock"
flock 9

# 1. Docker engine and debootstrap, from the distribution's packages.
need_pkgs=()
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need_pkgs+=(debootstrap)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  command -v apt-get >/dev/null ||
    die "missing ${need_pkgs[*]} and no apt-get: install a Docker engine and debootstrap by hand"
  say "installing ${need_pkgs[*]} with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
    die "apt-get update failed (are you root, or is passwordless sudo set up?)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null ||
    die "could not install ${need_pkgs[*]}: run as root, or install them by hand"
else
  say "docker engine and debootstrap present"
fi

# 2. A daemon that answers; start one when none does (no init system runs it on a bare machine).
if docker info >/dev/null 2>&1; then
  say "docker daemon answers"
else
  [ "$(id -u)" -eq 0 ] || die "no Docker daemon answers and only root can start one here: run as root or start docker"
  say "starting dockerd (log: $dockerd_log)"
  nohup /usr/sbin/dockerd >>"$dockerd_log" 2>&1 </dev/null 9>&- &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || die "dockerd did not start within 30 s; see the end of $dockerd_log"
  say "docker daemon started"
fi

flock -u 9

# 3. The image. Its recipe: this script, the suite, and the controller settings copied in. One
# build of a suite at a time: every scenario's recipe asks for its image, several at once.
exec 8>"${TMPDIR:-/tmp}/asgi-uvicorn-testhost-$suite.lock"
flock 8
inherited=(/etc/apt/apt.conf.d/* /usr/local/share/ca-certificates/*.crt)
recipe_hash=$(
  {
    cat "$0"
    echo "$suite"
    for f in "${inherited[@]}"; do [ -f "$f" ] && { echo "$f"; cat "$f"; }; done
  } | sha256sum | cut -c1-12
)
image="$repo_name:$suite-$recipe_hash"

if docker image inspect "$image" >/dev/null 2>&1; then
  say "image $image present"
else
  # The Debian mirror the controller's apt uses, so proxies and local mirrors carry over.
  mirror=$(grep -rhoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    grep -oE 'https?://[^ ]+' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  mirror=${mirror%/}
  security=${mirror%/debian}/debian-security
  say "building $image from $mirror (takes about a minute)"
  rootfs=$(mktemp -d /var/tmp/asgi-testhost.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,python3,python3-apt,python3-packaging,sudo,iproute2,procps,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    die "debootstrap failed; see $rootfs.log"
  rm -f "$rootfs.log"

  # Inherit the controller's apt settings and extra CAs: behind a TLS-inspecting proxy pip and
  # apt inside the host need them; elsewhere they are harmless.
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
  for f in /etc/apt/apt.conf.d/*; do
    [ -f "$f" ] && cp "$f" "$rootfs/etc/apt/apt.conf.d/"
  done
  for f in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$f" ] && cp "$f" "$rootfs/usr/local/share/ca-certificates/"
  done
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the image"

  # A container boots systemd cleanly only without these (no tty, no writable /sys, no firstboot).
  : >"$rootfs/etc/machine-id"
  for unit in getty@tty1.service console-getty.service systemd-remount-fs.service \
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount systemd-firstboot.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  # Empty package lists must look stale, or `apt: cache_valid_time` skips the first update.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  mkdir -p "$rootfs/var/lib/apt/lists/partial"
  touch -d @0 "$rootfs/var/lib/apt/lists"

  tar -C "$rootfs" -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' \
    - "$image" >/dev/null || die "docker import failed"
  rm -rf "$rootfs"
  trap - EXIT
  say "image $image built"
fi
# A stable name for molecule and the demo; it always points at the current recipe's image.
docker tag "$image" "$repo_name:$suite"
echo "$repo_name:$suite"
