#!/usr/bin/env bash
# Start a systemd test host: tests/helpers/start-testhost.sh NAME HOSTNAME IMAGE
# A container of that name is replaced; the script returns once systemd has finished booting
# and prints its state (running or degraded). The same settings as the molecule platforms.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 NAME HOSTNAME IMAGE" >&2; exit 2; }
name=$1 hostname=$2 image=$3

docker rm -f "$name" >/dev/null 2>&1 || true
# SIGRTMIN+3 shuts systemd down cleanly; docker's default SIGTERM waits 10 s and kills.
docker run -d --name "$name" --hostname "$hostname" \
  --cap-add SYS_ADMIN --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
  --stop-signal SIGRTMIN+3 "$image" /lib/systemd/systemd >/dev/null
state=""
for _ in $(seq 1 60); do
  state=$(docker exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running | degraded) echo "$state"; exit 0 ;; esac
  sleep 1
done
echo "systemd in $name did not finish booting within 60 s (state: '${state:-none}'); see 'docker logs $name'" >&2
exit 1
