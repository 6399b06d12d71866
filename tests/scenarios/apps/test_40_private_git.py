"""An app from a private git repository over ssh (docs/sources.md, "Private git over SSH"), served
by the scenario's second host, a real sshd with a `git` user (molecule/apps/prepare.yml).

The deploy key is made here (ssh-keygen, in a temporary directory), authorized on the server and
used to push a repository with the tags v1 and v2 of the sample app. The right key deploys v1,
then v2 as a rolling reload; an unchanged deploy changes nothing and never places the key; a
wrong key and an unknown host key fail naming their variable, before any change; the key is
never in the playbook's output, the host's journal or left on the host; the cache is the fetch
user's, not root's, and the app user cannot read it."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import deploy, get, unit_state

from scenario import app_release, changed_tasks, main_pid, play_failures

import testhost

testinfra_hosts = ["ansible://asgi_uvicorn"]

APP = "private"
FETCH_USER = f"{APP}-git"
GIT_DIR = f"/srv/{APP}/git"
SERVER = "asgi-uvicorn-apps-git"
# molecule/apps/molecule.yml gives the server this address on the scenario's network.
URL = "ssh://git@172.30.61.20/srv/git/app.git"


def server(*cmd: str) -> str:
    return testhost.host_exec(SERVER, *cmd)


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"apps-scenario-{path.name}", "-f", str(path)],
                   check=True)
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """The deploy key the server authorizes, a key it does not, and a host key that is not the server's."""
    directory = tmp_path_factory.mktemp("git-keys")
    return {name: keygen(directory / name) for name in ("deploy", "wrong", "not-the-server")}


@pytest.fixture(scope="module")
def repository(keys, tmp_path_factory) -> dict:
    """The deploy key authorized on the server, its host key read from its own file (not over the
    network), and the sample app pushed with the tags v1 and v2: the source's variables."""
    testhost.docker("cp", f"{keys['deploy']}.pub", f"{SERVER}:/srv/git/.ssh/authorized_keys")
    server("chown", "git:git", "/srv/git/.ssh/authorized_keys")
    host_key = server("cat", "/etc/ssh/ssh_host_ed25519_key.pub").split()
    known_hosts = [f"172.30.61.20 {host_key[0]} {host_key[1]}"]
    directory = tmp_path_factory.mktemp("git-repo")
    (directory / "known_hosts").write_text(known_hosts[0] + "\n")
    work = Path(app_release(directory, "v1"))
    env = {"GIT_SSH_COMMAND": f"ssh -i {keys['deploy']} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes "
                              f"-o UserKnownHostsFile={directory / 'known_hosts'}",
           "GIT_AUTHOR_NAME": "apps", "GIT_AUTHOR_EMAIL": "apps@example.test",
           "GIT_COMMITTER_NAME": "apps", "GIT_COMMITTER_EMAIL": "apps@example.test", "PATH": "/usr/bin:/bin"}

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(work), *args], check=True, env=env, capture_output=True, timeout=60)
    git("init", "-q", "-b", "main")
    for version in ("v1", "v2"):
        (work / "VERSION").write_text(version + "\n")
        git("add", "-A")
        git("commit", "-q", "-m", version)
        git("tag", "-a", "-m", version, version)
    git("push", "-q", "--force", URL, "main", "v1", "v2")  # --force: a rerun replaces them
    return {"app_source_type": "git", "app_source": URL, "app_source_ssh_key": str(keys["deploy"]),
            "app_source_known_hosts": known_hosts}


def key_lines(key: Path) -> list[str]:
    """The private key's base64 lines: none may show anywhere."""
    return [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]


def timed_deploy(**extra) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = deploy(APP, **extra)
    return proc, time.monotonic() - start


def report_of(proc: subprocess.CompletedProcess, keys: dict[str, Path]) -> dict:
    """The deploy's JSON report, once nothing it printed holds a line of a private key."""
    for name in ("deploy", "wrong"):
        for line in key_lines(keys[name]):
            assert line not in proc.stdout and line not in proc.stderr, f"the {name} key is in the output"
    assert proc.stdout.startswith("{"), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def version(host, address: str, tmp_path: Path) -> str:
    answer = get(host, address, APP, "/", tmp_path)
    assert answer.status == 200, answer
    return json.loads(answer.body)["version"]


def git_dir_stamp(host) -> str:
    """When an entry of the fetch user's directory was last made or removed (the key is one)."""
    return host.check_output(f"stat -c %y {GIT_DIR}")


def host_state(host) -> dict:
    """What a deploy that fails its checks must leave as it was."""
    return {"current": host.file(f"/srv/{APP}/current").linked_to,
            "releases": host.check_output(f"ls /srv/{APP}/releases"),
            "git dir": git_dir_stamp(host), "main pid": main_pid(host, f"{APP}.service")}


def test_the_deploy_key_deploys_v1(host, address, repository, keys, tmp_path, figures):
    proc, seconds = timed_deploy(**repository, app_source_version="v1")
    report = report_of(proc, keys)
    assert proc.returncode == 0, play_failures(report)
    assert version(host, address, tmp_path) == "v1"
    # The fetch ran as the fetch user: it owns every file of the cache; the app user cannot read it.
    cache = host.file(GIT_DIR)
    assert (cache.user, cache.mode) == (FETCH_USER, 0o700), (cache.user, oct(cache.mode))
    assert host.file(f"{GIT_DIR}/repo/.git/HEAD").user == FETCH_USER
    assert host.check_output(f"find {GIT_DIR}/repo ! -user {FETCH_USER} -printf '%u %p\\n'") == ""
    assert host.run(f"runuser -u {APP} -- ls {GIT_DIR}").rc != 0
    figures.append({"check": "private git over ssh: first deploy (v1)", "measured": f"{seconds:.1f} s"})


def test_an_unchanged_deploy_does_not_place_the_key(host, repository, keys, figures):
    before = git_dir_stamp(host)
    proc, seconds = timed_deploy(**repository, app_source_version="v1")
    report = report_of(proc, keys)
    assert proc.returncode == 0, play_failures(report)
    assert changed_tasks(report) == {h: [] for h in report["stats"]}, changed_tasks(report)
    assert git_dir_stamp(host) == before  # no key was written into it nor removed
    figures.append({"check": "private git over ssh: unchanged deploy", "measured": f"{seconds:.1f} s, changed=0"})


def test_v2_is_a_rolling_reload(host, address, repository, keys, tmp_path, figures):
    pid = main_pid(host, f"{APP}.service")
    live = host.file(f"/srv/{APP}/current").linked_to
    proc, seconds = timed_deploy(**repository, app_source_version="v2")
    report = report_of(proc, keys)
    assert proc.returncode == 0, play_failures(report)
    assert version(host, address, tmp_path) == "v2"
    assert host.file(f"/srv/{APP}/current").linked_to != live
    assert main_pid(host, f"{APP}.service") == pid, "v2 restarted the unit instead of reloading it"
    assert unit_state(host, f"{APP}.service")["NRestarts"] == "0"
    figures.append({"check": "private git over ssh: v2, rolling reload",
                    "measured": f"{seconds:.1f} s, MainPID {pid} kept"})


# A known_hosts line with another key for the server's address (ssh: the key changed), and one
# with the server's key for another name only (ssh: no key known; accept-new would take it).
@pytest.mark.parametrize("case", ["wrong key", "another host key", "server not listed"])
def test_a_refused_key_or_unknown_host_fails_before_any_change(host, address, repository, keys, tmp_path, case,
                                                               figures):
    other_key = " ".join((keys["not-the-server"].with_suffix(".pub")).read_text().split()[:2])
    server_key = repository["app_source_known_hosts"][0].split(" ", 1)[1]
    bad, variable, says = {
        "wrong key": ({"app_source_ssh_key": str(keys["wrong"])}, "app_source_ssh_key", "refused the key"),
        "another host key": ({"app_source_known_hosts": [f"172.30.61.20 {other_key}"]},
                             "app_source_known_hosts", "the host key of the git server"),
        "server not listed": ({"app_source_known_hosts": [f"git.example.test {server_key}"]},
                              "app_source_known_hosts", "the host key of the git server"),
    }[case]
    before = host_state(host)
    # v1 is not live: had the check let it through, the deploy would build and move `current`.
    proc, seconds = timed_deploy(**{**repository, **bad, "app_source_version": "v1"})
    report = report_of(proc, keys)
    assert proc.returncode != 0
    failures = play_failures(report)
    assert any(message.startswith(f"{variable}: ") and says in message for message in failures), failures
    assert changed_tasks(report) == {h: [] for h in report["stats"]}, changed_tasks(report)
    assert host_state(host) == before
    assert version(host, address, tmp_path) == "v2"
    figures.append({"check": f"private git over ssh: {case}", "measured": f"fails in {seconds:.1f} s, nothing changed"})


def test_the_key_is_nowhere_on_the_host(host, keys, figures):
    lines = key_lines(keys["deploy"])
    journal = host.check_output("journalctl --no-pager -o cat")
    assert "OPENSSH PRIVATE KEY" not in journal and not any(line in journal for line in lines)
    assert host.file(f"{GIT_DIR}/deploy_key").exists is False
    found = host.run(f"grep -rlF -e '{lines[0]}' -e 'OPENSSH PRIVATE KEY' /srv /etc /root /tmp /var/tmp /home")
    assert found.rc == 1 and found.stdout == "", found.stdout + found.stderr
    figures.append({"check": "private git over ssh: the key on the host",
                    "measured": f"in none of {len(journal.splitlines())} journal lines, no file holds it"})
