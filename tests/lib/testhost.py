"""Local systemd test hosts (Docker containers with systemd as PID 1), for every test tool.

The one place that starts, waits for and removes test hosts: Molecule's create and destroy
(molecule/common/create.yml, destroy.yml), the scenarios' checks (tests/lib/scenario.py), the
benchmark and `make demo` all come here. Shell scripts and playbooks call it as a command:

    python3 tests/lib/testhost.py up PLATFORMS_JSON           start Molecule's platforms, print
                                                              its instance config (JSON)
    python3 tests/lib/testhost.py down PLATFORMS_JSON         remove them and their networks
    python3 tests/lib/testhost.py ensure NAME HOSTNAME IMAGE  reuse NAME if it runs IMAGE, else start
    python3 tests/lib/testhost.py ip NAME
    python3 tests/lib/testhost.py cert NAME SITE DEST         the site's certificate, to DEST
    python3 tests/lib/testhost.py inventory PATH NAME KEY=VALUE...
    python3 tests/lib/testhost.py workers NAME UNIT           {"main_pid", "workers", "trackers"}

A platform is a dict of molecule.yml: `name`, `image` (default asgi-uvicorn-testhost:bookworm)
and, for hosts that share a network of their own, `network: {name, subnet, address}` (subnet
and address optional: a fixed address survives a stop and start).

The worker oracle (`parse_children`) reads `ps` on purpose and shares no code with the
asgi.uvicorn.workers module, which it checks. Standard library only: the benchmark needs no venv.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_IMAGE = "asgi-uvicorn-testhost:bookworm"
GROUP = "asgi_uvicorn"
# `ps` lines of the Uvicorn parent's children, for parse_children().
PS_CHILDREN = "ps -o pid=,args= --ppid {pid}"


def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def host_exec(name: str, *cmd: str, check: bool = True) -> str:
    return docker("exec", name, *cmd, check=check)


def system_state(name: str) -> str:
    """`systemctl is-system-running --wait` in the host: running, degraded, or '' if no answer."""
    return host_exec(name, "systemctl", "is-system-running", "--wait", check=False).strip()


def run(name: str, hostname: str, image: str, network: dict | None = None) -> None:
    """Replace any container `name` with a new host, booting in the background."""
    remove(name)
    # systemd as PID 1 without --privileged (which fails on these machines); NET_ADMIN for the
    # hosts' own nftables rules. SIGRTMIN+3 shuts systemd down cleanly; docker's default SIGTERM
    # waits 10 s and kills.
    flags = ["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
             "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp", "--stop-signal", "SIGRTMIN+3"]
    if network:
        flags += ["--network", network["name"]] + (["--ip", network["address"]] if "address" in network else [])
    docker("run", "-d", "--name", name, "--hostname", hostname, *flags, image, "/lib/systemd/systemd")


def wait_booted(name: str, timeout: float = 60) -> str:
    """systemd's state once it finished booting in host `name` (running or degraded)."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = system_state(name)
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    raise RuntimeError(f"systemd in {name} did not finish booting within {timeout:.0f} s "
                       f"(state: {state or 'none'!r}); see 'docker logs {name}'")


def start(name: str, hostname: str, image: str) -> str:
    """Replace any container `name` with a fresh host; return systemd's state once booted."""
    run(name, hostname, image)
    return wait_booted(name)


def networks(platforms: list[dict]) -> dict[str, str]:
    """The networks the platforms share: name -> subnet ('' lets Docker choose)."""
    return {p["network"]["name"]: p["network"].get("subnet", "") for p in platforms if p.get("network")}


def up(platforms: list[dict]) -> list[dict]:
    """Start every platform's host (all booting at once) and return Molecule's instance config."""
    down(platforms)
    for network, subnet in networks(platforms).items():
        docker("network", "create", *(["--subnet", subnet] if subnet else []), network)
    for p in platforms:
        run(p["name"], p["name"], p.get("image", DEFAULT_IMAGE), p.get("network"))
    for p in platforms:
        wait_booted(p["name"])
    return [{"instance": p["name"], "address": p["name"], "connection": "community.docker.docker"}
            for p in platforms]


def down(platforms: list[dict]) -> None:
    """Remove the platforms' hosts and the networks they shared."""
    for p in platforms:
        remove(p["name"])
    for network in networks(platforms):
        docker("network", "rm", network, check=False)


def running_on(name: str, image: str) -> bool:
    """Whether container `name` runs, on the image `image` now names (not an older build)."""
    have = docker("container", "inspect", "-f", "{{.State.Running}} {{.Image}}", name, check=False).split()
    want = docker("image", "inspect", "-f", "{{.Id}}", image).strip()
    return have == ["true", want]


def ensure(name: str, hostname: str, image: str) -> tuple[str, bool]:
    """A running host `name` on `image`: reused when it already is one, else started afresh.
    Returns (systemd state, reused)."""
    if running_on(name, image):
        state = system_state(name)
        if state in ("running", "degraded"):
            return state, True
    return start(name, hostname, image), False


def remove(name: str) -> None:
    docker("rm", "-f", name, check=False)


def ip(name: str) -> str:
    """The host's address on the Docker bridge (its first network)."""
    addresses = docker("container", "inspect", "-f",
                       "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name).split()
    if not addresses:
        raise RuntimeError(f"no IP address for {name}")
    return addresses[0]


def fetch_cert(name: str, site: str, dest: Path) -> Path:
    """The site's self-signed certificate from the host, to trust as its own CA."""
    dest.write_text(host_exec(name, "cat", f"/etc/nginx/tls/{site}/fullchain.pem"))
    return dest


def inventory_text(name: str, hostvars: dict[str, object]) -> str:
    """An Ansible inventory with the one host `name` in the group asgi_uvicorn, reached with
    `docker exec`. Values are written as JSON, which YAML reads as they are."""
    lines = ["# Written by tests/lib/testhost.py: a local test host.", f"{GROUP}:", "  hosts:", f"    {name}:"]
    allvars = {"ansible_connection": "community.docker.docker",
               "ansible_python_interpreter": "/usr/bin/python3", **hostvars}
    lines += [f"      {key}: {json.dumps(value)}" for key, value in allvars.items()]
    return "\n".join(lines) + "\n"


def write_inventory(path: Path, name: str, hostvars: dict[str, object]) -> bool:
    """Write the inventory of inventory_text() to `path`; False when it was already there."""
    text = inventory_text(name, hostvars)
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def main_pid(name: str, unit: str) -> int:
    """systemd's MainPID of the unit (0 when it is not running)."""
    return int(host_exec(name, "systemctl", "show", "-p", "MainPID", "--value", unit).strip() or 0)


@dataclass
class Children:
    """A Uvicorn parent's children as `ps` shows them."""
    workers: list[int]   # started by multiprocessing spawn: the Uvicorn workers
    trackers: list[int]  # multiprocessing's resource tracker (one per parent)
    others: list[str]    # anything else, e.g. a zombie (`[python3] <defunct>`)


def parse_children(ps_output: str) -> Children:
    """Parse the output of PS_CHILDREN (`pid args` lines)."""
    children = Children([], [], [])
    for line in ps_output.splitlines():
        pid, _, args = line.strip().partition(" ")
        if not pid:
            continue
        if "multiprocessing.resource_tracker" in args:
            children.trackers.append(int(pid))
        elif "spawn_main" in args:
            children.workers.append(int(pid))
        else:
            children.others.append(line.strip())
    children.workers.sort()
    return children


def workers(name: str, unit: str) -> tuple[int, Children]:
    """(MainPID, its children) of the unit in host `name`, from `ps`."""
    pid = main_pid(name, unit)
    if pid == 0:
        return 0, Children([], [], [])
    return pid, parse_children(host_exec(name, "sh", "-c", PS_CHILDREN.format(pid=pid), check=False))


def main(argv: list[str]) -> int:
    usage = __doc__.split("\n\n")[1]
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    try:
        if command == "up" and len(args) == 1:
            print(json.dumps(up(json.loads(args[0]))))
        elif command == "down" and len(args) == 1:
            down(json.loads(args[0]))
        elif command == "ensure" and len(args) == 3:
            state, reused = ensure(*args)
            print(f"{state} {'reused' if reused else 'started'}")
        elif command == "ip" and len(args) == 1:
            print(ip(args[0]))
        elif command == "cert" and len(args) == 3:
            print(fetch_cert(args[0], args[1], Path(args[2])))
        elif command == "inventory" and len(args) >= 2:
            hostvars = dict(arg.split("=", 1) for arg in args[2:])
            changed = write_inventory(Path(args[0]), args[1], hostvars)
            print("written" if changed else "unchanged")
        elif command == "workers" and len(args) == 2:
            pid, children = workers(*args)
            print(json.dumps({"main_pid": pid, **asdict(children)}))
        else:
            print(usage, file=sys.stderr)
            return 2
    except RuntimeError as e:
        print(f"testhost: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
