"""Fixtures and helpers of the scenarios' testinfra checks (tests/scenarios/*/).

Each scenario's conftest.py imports all of it (`from scenario import *`), so pytest finds the
fixtures there. Besides `host` (testinfra), the checks drive the host the way a user does:
ansible-playbook with the project's playbooks and ad-hoc calls of the asgi.uvicorn.workers
module, and HTTPS requests from the controller to the host's address with a verified TLS
handshake. The host's address, certificate, MainPID and workers come from testhost.py.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import testhost

__all__ = ["PROJECT", "Answer", "address", "ansible_env", "app_name", "app_release", "assert_bad_input_changes_nothing", "cacert", "changed_tasks", "client_address", "curl", "failure_messages",
           "figures_table", "host_python", "https", "load_table", "load_through_nginx", "main_pid", "play_failures",
           "ps_children", "requests_through_nginx", "run_deploy", "run_workers_module", "server_name", "site_cacert",
           "wait_for"]

PROJECT = Path(__file__).resolve().parents[2]
LOADCLIENT = PROJECT / "tests" / "lib" / "loadclient.py"


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment of the checks' Ansible commands: the collections path the Makefile set
    (the checkout, or the built tarball as installed), else the checkout."""
    env = dict(os.environ, **extra)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(PROJECT / ".cache" / "collections"))
    return env


def _inventory() -> str:
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory:
        pytest.fail("MOLECULE_INVENTORY_FILE is not set: run these checks through molecule verify")
    return inventory


def run_deploy(extra_vars: dict, check: bool = False, playbook: str = "deploy.yml",
               diff: bool = False, as_json: bool = False) -> subprocess.CompletedProcess:
    """Run the collection's playbook <playbook> (deploy.yml: asgi.uvicorn.deploy, as a user
    would, from whichever asgi.uvicorn ANSIBLE_COLLECTIONS_PATH finds first), or a playbook at an
    absolute path, against the scenario's host with -e JSON. With `as_json`, stdout is the
    ansible.builtin.json callback's report (per-host stats and every task's result)."""
    name = playbook if os.path.isabs(playbook) else "asgi.uvicorn." + playbook.removesuffix(".yml")
    cmd = ["ansible-playbook", "-i", _inventory(), name, "-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json") \
        if as_json else ansible_env()
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def changed_tasks(report: dict) -> dict[str, list[str]]:
    """Per host, the tasks that reported a change, from a run_deploy(as_json=True) report."""
    found: dict[str, list[str]] = {host: [] for host in report["stats"]}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("changed"):
                    found[host].append(task["task"]["name"])
    return found


def failure_messages(result: dict) -> list[str]:
    """Every failure message of one task result: its msg, its argument errors, its loop items'."""
    found = [str(result.get("msg", ""))] + [str(error) for error in result.get("argument_errors", [])]
    # ansible-core 2.21's JSON callback leaves `failed` out of a failed assert's loop item.
    failed = [item for item in result.get("results", []) if item.get("failed") or item.get("exception")]
    return found + [message for item in failed for message in failure_messages(item)]


def play_failures(report: dict) -> list[str]:
    """Every failure message of a run_deploy(as_json=True) report, its loop items' included."""
    return [" ".join(message.split()) for play in report["plays"] for task in play["tasks"]
            for result in task["hosts"].values() if result.get("failed") for message in failure_messages(result)]


def assert_bad_input_changes_nothing(host, app_name: str, extra: dict, variable: str) -> None:
    """Deploy an app called `badinput` with `extra` beside the working app `app_name`: the deploy
    must fail naming `variable`, with nothing of `badinput` on the host and the working app's
    unit, socket, site and env file untouched."""
    def snapshot() -> dict:
        files = [f"/etc/systemd/system/{app_name}.service", f"/etc/systemd/system/{app_name}.socket",
                 f"/etc/nginx/sites-available/{app_name}.conf", f"/etc/{app_name}/env"]
        return {f: host.file(f).sha256sum for f in files}

    before = snapshot()
    proc = run_deploy({"app_name": "badinput", **extra}, as_json=True)
    assert proc.returncode != 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    failures = play_failures(report)
    assert any(variable in message for message in failures), failures
    assert changed_tasks(report) == {host: [] for host in report["stats"]}, changed_tasks(report)
    for path in ("/etc/systemd/system/badinput.service", "/etc/nginx/sites-available/badinput.conf",
                 "/srv/badinput", "/etc/badinput"):
        assert not host.file(path).exists, path
    assert not host.user("badinput").exists
    assert snapshot() == before


def run_workers_module(args: dict) -> tuple[bool, dict]:
    """Call asgi.uvicorn.workers ad hoc; return (failed, result)."""
    cmd = ["ansible", "-i", _inventory(), "asgi_uvicorn", "-m", "asgi.uvicorn.workers",
           "-a", json.dumps(args)]
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    out = json.loads(proc.stdout)
    (result,) = [r for play in out["plays"] for task in play["tasks"] for r in task["hosts"].values()]
    return bool(result.get("failed")), result


def ps_children(host, main_pid: int) -> testhost.Children:
    """ps's view of the Uvicorn parent's children: workers, resource tracker, others."""
    return testhost.parse_children(host.check_output(testhost.PS_CHILDREN.format(pid=main_pid)))


def main_pid(host, unit: str) -> int:
    """systemd's MainPID of the unit."""
    return testhost.main_pid(host.backend.get_hostname(), unit)


def host_python(host, script: str, *args: str) -> str:
    """Run a host-side script of tests/lib/ (e.g. probe.py) on the host: timings taken there
    count no Ansible or docker round trip."""
    source = (Path(__file__).parent / script).read_text()
    quoted = " ".join("'%s'" % a for a in args)
    return host.check_output("python3 - %s <<'PYEOF'\n%s\nPYEOF" % (quoted, source))


@pytest.fixture(scope="module")
def app_name(host) -> str:
    return host.ansible.get_variables().get("app_name", "app")


@pytest.fixture(scope="module")
def server_name(host) -> str:
    return host.ansible.get_variables()["inventory_hostname"]


@pytest.fixture(scope="module")
def address(host) -> str:
    """The host's address on the local Docker bridge."""
    return testhost.ip(host.backend.get_hostname())


def site_cacert(host, site: str, directory: Path) -> Path:
    """A site's self-signed certificate from the host, trusted as its own CA."""
    return testhost.fetch_cert(host.backend.get_hostname(), site, directory / f"{site}.pem")


@pytest.fixture(scope="module")
def cacert(host, app_name, tmp_path_factory) -> Path:
    """The host's self-signed certificate, trusted as its own CA for verified handshakes."""
    return site_cacert(host, app_name, tmp_path_factory.mktemp("tls"))


@dataclass
class Answer:
    """What curl got: rc is curl's exit code; status 0 and no headers when nothing came back."""
    rc: int
    status: int
    headers: dict[str, str]
    body: str
    error: str


def curl(address: str, server_name: str, path: str, cacert: Path, scheme: str = "https",
         headers: dict[str, str] | None = None, extra: tuple[str, ...] = ()) -> Answer:
    """One request with curl to `address`, with `server_name` as the URL's host (SNI and Host)."""
    port = 443 if scheme == "https" else 80
    cmd = ["curl", "-sS", "-D", "-", "--max-time", "10", "--cacert", str(cacert),
           "--resolve", f"{server_name}:{port}:{address}", *extra]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    proc = subprocess.run(cmd + [f"{scheme}://{server_name}{path}"], capture_output=True, text=True, timeout=30)
    head, _, body = proc.stdout.replace("\r\n", "\n").partition("\n\n")
    if not head.startswith("HTTP/"):
        return Answer(proc.returncode, 0, {}, proc.stdout, proc.stderr)
    headers_out = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in head.splitlines()[1:])}
    return Answer(proc.returncode, int(head.split()[1]), headers_out, body, proc.stderr)


@pytest.fixture(scope="module")
def https(server_name, address, cacert):
    """curl through nginx with a verified TLS handshake: https("/path") -> (status, headers, body)."""
    def get(path: str, scheme: str = "https") -> tuple[int, dict, str]:
        answer = curl(address, server_name, path, cacert, scheme)
        assert answer.rc == 0, answer.error
        return answer.status, answer.headers, answer.body
    return get


@pytest.fixture(scope="module")
def client_address(host) -> str:
    """The controller's address as the host sees it: the Docker bridge's gateway."""
    return host.check_output("ip -4 route show default").split()[2]


@contextlib.contextmanager
def load_through_nginx(server_name: str, address: str, cacert: Path, rate: float = 150, concurrency: int = 8,
                       path: str = "/pid", duration: int = 300, retry_reused: bool = False, margin: int = 100,
                       record: bool = False):
    """Keep GET `path` going through nginx (HTTPS, verified against `cacert`) at a steady rate
    with loadclient.py while the block runs; the yielded dict holds its JSON report after it.
    The block starts once the client has `margin` answers, and the client stops once it has
    `margin` more after the block (some load on either side of the operation). With `record`,
    the report lists every request (loadclient.py --record)."""
    report: dict = {}
    with tempfile.TemporaryDirectory() as directory:
        progress = Path(directory) / "answers"
        cmd = [sys.executable, str(LOADCLIENT), "--url", f"https://{server_name}{path}", "--connect-to", address,
               "--cacert", str(cacert), "--rate", str(rate), "--concurrency", str(concurrency),
               "--duration", str(duration), "--timeout", "15", "--progress", str(progress)]
        if retry_reused:
            cmd.append("--retry-reused")
        if record:
            cmd.append("--record")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def answers() -> int:
            assert proc.poll() is None, f"the load client ended early: {proc.communicate()}"
            try:
                return int(progress.read_text() or 0)
            except (FileNotFoundError, ValueError):
                return 0
        try:
            wait_for(lambda: answers() >= margin, f"{margin} answers to the load client before the operation",
                     interval=0.1)
            yield report
            after = answers() + margin
            wait_for(lambda: answers() >= after, f"{margin} answers to the load client after the operation",
                     interval=0.1)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            report.update(json.loads(out))


def requests_through_nginx(server_name: str, address: str, cacert: Path, path: str, requests: int,
                           rate: float = 0, concurrency: int = 4, duration: float = 60) -> dict:
    """GET `path` through nginx (HTTPS, verified against `cacert`) `requests` times with
    loadclient.py, at `rate` per second (0: as fast as it goes); its JSON report. A paced run may
    leave the last few requests of the budget unsent when `duration` ends: count its "total"."""
    proc = subprocess.run([sys.executable, str(LOADCLIENT), "--url", f"https://{server_name}{path}",
                           "--connect-to", address, "--cacert", str(cacert), "--rate", str(rate),
                           "--concurrency", str(concurrency), "--max-requests", str(requests),
                           "--duration", str(duration), "--timeout", "15"],
                          capture_output=True, text=True, timeout=duration + 60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60, interval: float = 0.5) -> object:
    """Poll `condition` until it returns something true, and return that; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what} not reached within {timeout:.0f} s")


@contextlib.contextmanager
def figures_table(scenario: str, title: str, table: Callable[[list[dict]], str]) -> Iterator[list[dict]]:
    """The rows a scenario's checks append their figures to. When the block ends, the table that
    `table` makes of them is printed and kept, with the rows, in .cache/<scenario>/figures.md
    and figures.json (a scenario's session fixture `figures` yields the rows from inside it)."""
    rows: list[dict] = []
    yield rows
    if not rows:
        return
    text = table(rows)
    directory = PROJECT / ".cache" / scenario
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "figures.md").write_text(text + "\n")
    (directory / "figures.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n\n{title}:\n{text}\n")


def app_release(tmp_path: Path, version: str, append: str = "") -> str:
    """A copy of the sample app with its VERSION set and code appended (a new release id)."""
    source = tmp_path / f"app-{version}"
    shutil.copytree(PROJECT / "tests" / "sample_app", source)
    (source / "VERSION").write_text(version + "\n")
    if append:
        with open(source / "main.py", "a") as f:
            f.write(append)
    return str(source)


def load_table(rows: list[dict], resent: bool = False) -> str:
    """The figures table of operations run under load_through_nginx(): one row per operation,
    with its load client's report ("load") and what was measured besides; with `resent`, the
    GETs the client sent again after a kept-alive connection closed without an answer."""
    head = ["Operation", "Requests", "Failed"] + (["Resent"] if resent else []) + ["p50 ms", "p99 ms", "Measured"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for row in rows:
        load = row.get("load") or {}
        latency = load.get("latency_ms", {})
        cells = [row["operation"], load.get("total", "-"), load.get("failed", "-")]
        cells += [load.get("retried_reused", "-")] if resent else []
        cells += [latency.get("p50", "-"), latency.get("p99", "-"), row.get("measured", "")]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)
