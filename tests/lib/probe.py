"""Host-side timings for the scenarios (run on the test host by scenario.host_python).

    probe.py kill-worker UNIT [SOCKET] kill -9 one worker; seconds until a new one is spawned
                                       (waits the supervisor's health-check timeout + 15 s);
                                       with SOCKET (Uvicorn's unix socket), then until the new
                                       one answers GET /pid there (a new connection a try:
                                       nginx's pooled ones stay with the old workers)
    probe.py kill-parent UNIT HOST     kill -9 the Uvicorn parent; seconds until a worker of the
                                       new parent answers GET /pid through nginx (SNI and Host: HOST)

Prints one JSON object. Timed here, not from the controller, so no Ansible round trip is counted.
Its instants (`*_at`) are time.monotonic(), the clock of the whole kernel: the controller's
load client (loadclient.py --record) reads the same one.
It runs on the host as one piped script, without tests/lib/testhost.py beside it, so it reads
/proc itself (polling every 10 ms; a `ps` per poll would be slower than what it times). Its
worker rule is testhost.parse_children's: live children of the parent with spawn_main in their
command line.
"""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time


class LoopbackHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to nginx on 127.0.0.1 with the site's name as SNI (nginx refuses a handshake without it)."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def get_json(host, path, context):
    conn = LoopbackHTTPSConnection(host, 443, context=context, timeout=5)
    try:
        conn.request("GET", path)
        return json.load(conn.getresponse())
    finally:
        conn.close()


def get_json_unix(path, url_path):
    """GET url_path from the HTTP server on the unix socket at path, on a new connection."""
    conn = http.client.HTTPConnection("localhost", timeout=5)
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.settimeout(5)
    try:
        conn.sock.connect(path)
        conn.request("GET", url_path)
        return json.load(conn.getresponse())
    finally:
        conn.close()


def main_pid(unit):
    out = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip() or 0)


def spawned_workers(parent):
    """Live children of parent started by multiprocessing spawn (Uvicorn's workers)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == parent and fields[0] not in ("Z", "X") and b"spawn_main" in cmdline:
            found.append(int(name))
    return sorted(found)


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def healthcheck_timeout(parent):
    """The parent's --timeout-worker-healthcheck (Uvicorn's default: 5)."""
    with open("/proc/%d/cmdline" % parent, "rb") as f:
        args = f.read().decode().split("\0")
    for flag, value in zip(args, args[1:]):
        if flag == "--timeout-worker-healthcheck":
            return float(value)
    return 5.0


def kill_worker(unit, sock=None):
    parent = main_pid(unit)
    before = spawned_workers(parent)
    healthcheck = healthcheck_timeout(parent)
    victim = before[0]
    start = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    # A worker that dies while the supervisor waits for its answer to a health-check ping is
    # noticed only when that wait times out, so wait longer than the health-check timeout.
    while time.monotonic() - start < healthcheck + 15:
        now = [p for p in spawned_workers(parent) if p != victim]
        if len(now) >= len(before):
            break
        time.sleep(0.01)
    spawned_at = time.monotonic()
    served_at = None
    new = sorted(set(now) - set(before))
    if sock and new:
        while served_at is None and time.monotonic() - spawned_at < 30:
            try:
                if get_json_unix(sock, "/pid")["pid"] in new:
                    served_at = time.monotonic()
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
    return {"victim": victim, "before": before, "after": now, "seconds": round(spawned_at - start, 3),
            "healthcheck_timeout": healthcheck, "killed_at": round(start, 4), "spawned_at": round(spawned_at, 4),
            "served_at": served_at and round(served_at, 4)}


def kill_parent(unit, host):
    old = main_pid(unit)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    start = time.monotonic()
    os.kill(old, signal.SIGKILL)
    new, new_at, served_at, served_by = 0, None, None, None
    while time.monotonic() - start < 60:
        if new_at is None:
            new = main_pid(unit)
            if new not in (0, old):
                new_at = time.monotonic() - start
        else:
            try:
                pid = get_json(host, "/pid", context)["pid"]
                if parent_of(pid) == new:
                    served_at, served_by = time.monotonic() - start, pid
                    break
            except (OSError, ValueError):
                pass
        time.sleep(0.02)
    return {"old_main_pid": old, "new_main_pid": new, "seconds_to_new_parent": new_at and round(new_at, 3),
            "seconds_to_serving": served_at and round(served_at, 3), "served_by": served_by}


if __name__ == "__main__":
    if sys.argv[1] == "kill-worker":
        print(json.dumps(kill_worker(*sys.argv[2:4])))
    elif sys.argv[1] == "kill-parent":
        print(json.dumps(kill_parent(sys.argv[2], sys.argv[3])))
    else:
        sys.exit("unknown command %r" % sys.argv[1])
