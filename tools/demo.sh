#!/usr/bin/env bash
# `make demo`: deploy the sample app with 4 Uvicorn workers to a local systemd test host, then
# show its HTTPS answer and its worker PIDs. Run after tests/helpers/setup.sh (make does that).
# Each step is skipped when it is already done; running it again re-deploys idempotently.
#
#   ASGI_DEMO_WORKERS=4             worker count passed as `-e workers=N`
#   ASGI_TESTHOST_IMAGE=...         test host image (default asgi-uvicorn-testhost:bookworm)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"

# Runnable on its own too: the same tools and collection path as `make`.
[ -d "$root/.venv/bin" ] && export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/.cache/collections}
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}

name=asgi-uvicorn-demo
hostname=demo.asgi.test
app=demo
image=${ASGI_TESTHOST_IMAGE:-asgi-uvicorn-testhost:bookworm}
workers=${ASGI_DEMO_WORKERS:-4}
state=.cache/demo
inventory=$state/inventory.yml

say() { echo "demo: $*" >&2; }
die() { echo "demo: ERROR: $*" >&2; exit 1; }

command -v ansible-playbook >/dev/null || die "ansible-playbook not found: run 'make setup' first"
command -v curl >/dev/null || die "curl not found: install curl (apt-get install curl)"
want_image=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) ||
  die "image $image not found: run 'make setup' (or tests/helpers/testhost.sh) first"

# 1. The test host: a container with systemd as PID 1 (reused while running on the current image).
if have_image=$(docker container inspect -f '{{.Image}}' "$name" 2>/dev/null); then
  running=$(docker container inspect -f '{{.State.Running}}' "$name")
  if [ "$running" = true ] && [ "$have_image" = "$want_image" ]; then
    say "test host $name running, reusing it"
  else
    if [ "$running" != true ]; then why="stopped"; else why="on an older image"; fi
    say "test host $name is $why: recreating it"
    docker rm -f "$name" >/dev/null
  fi
fi
if ! docker container inspect "$name" >/dev/null 2>&1; then
  say "starting test host $name ($image, systemd as PID 1)"
  system_state=$(tests/helpers/start-testhost.sh "$name" "$hostname" "$image") || die "the test host did not start"
else
  system_state=$(docker exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
fi
case "$system_state" in
  running | degraded) say "systemd in $name is $system_state" ;;
  *) die "systemd in $name is '${system_state:-not answering}'; see 'docker logs $name'" ;;
esac

# 2. The inventory (rewritten only when it differs).
mkdir -p "$state"
new_inventory=$(
  cat <<EOF
# Written by tests/helpers/demo.sh: the local test host of \`make demo\`.
asgi_uvicorn:
  hosts:
    $name:
      ansible_connection: community.docker.docker
      ansible_python_interpreter: /usr/bin/python3
      app_name: $app
      app_source: $root/tests/sample_app
      proxy_server_name: $hostname
EOF
)
if [ -f "$inventory" ] && [ "$(cat "$inventory")" = "$new_inventory" ]; then
  say "inventory $inventory up to date"
else
  printf '%s\n' "$new_inventory" >"$inventory"
  say "wrote inventory $inventory"
fi

# 3. The deploy (the playbook ends by checking the workers and printing them).
say "running: ansible-playbook -i $inventory playbooks/deploy.yml -e workers=$workers"
ansible-playbook -i "$inventory" playbooks/deploy.yml -e "workers=$workers"

# 4. The HTTPS answer, from this controller, with the certificate verified (no -k).
ip=$(docker container inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$name" | awk '{print $1}')
[ -n "$ip" ] || die "no IP address for $name"
cert=$state/fullchain.pem
docker cp "$name:/etc/nginx/tls/$app/fullchain.pem" "$cert.new" >/dev/null
if [ -f "$cert" ] && cmp -s "$cert" "$cert.new"; then
  rm -f "$cert.new"
  say "certificate $cert up to date"
else
  mv "$cert.new" "$cert"
  say "copied the host's self-signed certificate to $cert"
fi
curl_demo() { curl -sS --fail --max-time 10 --cacert "$cert" --resolve "$hostname:443:$ip" "$@"; }

say "running: curl --cacert $cert --resolve $hostname:443:$ip https://$hostname/"
headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
body=$(curl_demo -D "$headers" "https://$hostname/") || die "HTTPS request to $hostname ($ip) failed"
tr -d '\r' <"$headers" | grep -iE '^(HTTP/|strict-transport-security:)' | sed 's/^/  /'
echo "  $body"

# Idle workers share one socket and the kernel hands a new connection to whichever waits, so a
# few requests in a row often meet one worker: send batches of 40 at once until all answered.
urls=()
for _ in $(seq 1 40); do urls+=("https://$hostname/pid"); done
pids=""
for batch in 1 2 3 4 5; do
  pids+=$(curl_demo --no-progress-meter --parallel --parallel-max 40 "${urls[@]}" |
    grep -oE '"pid": *[0-9]+' | grep -oE '[0-9]+' || true)$'\n'
  answered=$(echo "$pids" | awk NF | sort -u | wc -l)
  [ "$answered" -gt 0 ] || die "no answer from https://$hostname/pid"
  if [ "$answered" -ge "$workers" ]; then break; fi
done
say "GET /pid, $((batch * 40)) requests, 40 at a time: the worker PIDs that answered"
echo "$pids" | awk NF | sort | uniq -c | awk '{printf "  worker %s answered %s\n", $2, $1}'

# 5. The worker PIDs, from the project's module and from ps inside the host.
say "running: ansible -i $inventory asgi_uvicorn -m asgi.uvicorn.workers -a 'unit=$app expected=$workers'"
ansible -i "$inventory" asgi_uvicorn -m asgi.uvicorn.workers -a "unit=$app expected=$workers"

main_pid=$(docker exec "$name" systemctl show -p MainPID --value "$app.service")
say "for comparison, ps in $name: the children of $app.service's MainPID $main_pid (workers + multiprocessing's resource tracker)"
docker exec "$name" ps -o pid,ppid,rss,cmd --ppid "$main_pid" | cut -c1-150

# 6. Clean-up.
say "done. Remove the test host with: docker rm -f $name   (then 'make demo' starts a new one)"
