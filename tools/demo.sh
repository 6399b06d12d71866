#!/usr/bin/env bash
# `make demo`: deploy the sample app with 4 Uvicorn workers to a local systemd test host, then
# show its HTTPS answer and its worker PIDs. Run after tools/setup.sh (make does that).
# Each step is skipped when it is already done; running it again re-deploys idempotently.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

# Runnable on its own too: the same tools and collection path as `make`.
[ -d "$root/.venv/bin" ] && export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/.cache/collections}
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}

testhost() { python3 tests/lib/testhost.py "$@"; }
name=asgi-uvicorn-demo
hostname=demo.asgi.test
app=demo
image=asgi-uvicorn-testhost:bookworm
workers=4
state=.cache/demo
inventory=$state/inventory.yml

say() { echo "demo: $*" >&2; }
die() { echo "demo: ERROR: $*" >&2; exit 1; }

command -v ansible-playbook >/dev/null || die "ansible-playbook not found: run tools/setup.sh first"
command -v curl >/dev/null || die "curl not found: install curl (apt-get install curl)"
docker image inspect "$image" >/dev/null 2>&1 ||
  die "image $image not found: run tools/testhost.sh bookworm first"

# 1. The test host: a container with systemd as PID 1 (reused while running on the current image).
say "test host $name ($image, systemd as PID 1)"
read -r system_state how < <(testhost ensure "$name" "$hostname" "$image") || die "the test host did not start"
say "test host $name $how; systemd in it is $system_state"

# 2. The inventory (rewritten only when it differs).
how=$(testhost inventory "$inventory" "$name" app_name="$app" app_source="$root/tests/sample_app" \
  proxy_server_name="$hostname")
say "inventory $inventory $how"

# 3. The deploy (the playbook ends by checking the workers and printing them).
say "running: ansible-playbook -i $inventory playbooks/deploy.yml -e workers=$workers"
ansible-playbook -i "$inventory" playbooks/deploy.yml -e "workers=$workers"

# 4. The HTTPS answer, from this controller, with the certificate verified (no -k).
ip=$(testhost ip "$name") || die "no IP address for $name"
cert=$state/fullchain.pem
testhost cert "$name" "$app" "$cert" >/dev/null || die "no certificate for $app in $name"
say "copied the host's self-signed certificate to $cert"
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

say "for comparison, ps in $name: the Uvicorn workers under $app.service's MainPID (tests/lib/testhost.py)"
testhost workers "$name" "$app"

# 6. Clean-up.
say "done. Remove the test host with: docker rm -f $name   (then 'make demo' starts a new one)"
