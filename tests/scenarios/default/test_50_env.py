"""Every app_env value reaches the workers and the pre-start steps byte for byte, and nothing in
it is ever run or shown: no shell reads the env file, and no output, journal or diff holds a value.

Runs last: the new env file restarts the service.
"""
from __future__ import annotations

import json
import secrets
import shutil

import pytest

from conftest import PROJECT, run_deploy, run_workers_module

SECRET = "asgi-secret-" + secrets.token_hex(8)


def values(shared: str) -> dict[str, str]:
    """One variable for each kind of character a shell or an env-file parser treats specially."""
    return {
        # First in the file (it is sorted): a shell that reads the file runs this before any
        # later value can stop it with a syntax error.
        "ASGI_A_BACKTICKS": f"a`touch {shared}/pwned-backtick`b",
        "ASGI_T_DOUBLE_QUOTES": 'say "hi" ""',
        "ASGI_T_SINGLE_QUOTES": "it's 'quoted' '",
        "ASGI_T_BACKSLASHES": 'a\\b \\" \\\\ \\n \\$ end\\',
        "ASGI_T_DOLLAR": f"$HOME ${{HOME}} $(touch {shared}/pwned-dollar) $$ $",
        "ASGI_T_LONE_BACKTICK": "a ` b",
        "ASGI_T_HASH": "# not a comment #",
        "ASGI_T_SPACES": "  at both ends  ",
        "ASGI_T_EQUALS": "a=b==c=",
        "ASGI_T_SEMICOLON": f"x; touch {shared}/pwned-semicolon; y && z | w",
        "ASGI_T_PERCENT": "%h %n %% %",
        "ASGI_T_NON_ASCII": "ünïcödé € 日本語 🚀",
        "ASGI_T_EMPTY": "",
        "ASGI_T_SECRET": SECRET,
    }


def environ_of(host, pid: int) -> dict[str, str]:
    raw = host.run(f"cat /proc/{pid}/environ").stdout_bytes
    return dict(entry.decode().partition("=")[::2] for entry in raw.split(b"\0") if entry)


@pytest.fixture(scope="module")
def deployed(host, app_name, tmp_path_factory):
    shared = f"/srv/{app_name}/shared"
    source = tmp_path_factory.mktemp("env") / "app"
    shutil.copytree(PROJECT / "tests" / "sample_app", source)
    (source / "VERSION").write_text(f"env-{secrets.token_hex(4)}\n")  # a new release: the pre-start step runs
    dump = f"{shared}/pre-start-env.json"
    host.run(f"rm -f {dump} {shared}/pwned-*")
    given = values(shared)
    proc = run_deploy({
        "app_source": str(source),
        "app_env": given,
        "app_pre_start_commands": [
            f"python3 -c 'import json, os; json.dump(dict(os.environ), open(\"{dump}\", \"w\"))'",
        ],
    }, diff=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return given, dump, proc


def test_workers_see_every_value_exactly(host, app_name, deployed):
    given, _, _ = deployed
    failed, result = run_workers_module({"unit": app_name, "timeout": 60})
    assert not failed, result.get("msg")
    for pid in result["worker_pids"]:
        seen = environ_of(host, pid)
        assert {k: seen.get(k) for k in given} == given, f"worker {pid}"


def test_pre_start_step_sees_every_value_exactly(host, deployed):
    given, dump, _ = deployed
    seen = json.loads(host.file(dump).content_string)
    assert {k: seen.get(k) for k in given} == given


def test_no_value_was_run(host, app_name):
    ran = host.run(f"ls /srv/{app_name}/shared/ | grep pwned").stdout
    assert ran == "", f"a shell ran part of an env value: {ran}"


def test_values_are_never_shown(host, deployed):
    _, _, proc = deployed
    assert SECRET not in proc.stdout + proc.stderr, "a value reached Ansible's output (or --diff)"
    journal = host.run(f"journalctl --no-pager -q --since '-15 min' | grep -c {SECRET}").stdout.strip()
    assert journal == "0", "a value reached the journal"
