"""Every app_env value reaches the workers and the pre-start steps byte for byte, and nothing in
it is ever run or shown: no shell reads the env file, and no output, journal or diff holds a value.

The values and the pre-start step that dumps its environment belong to the second app's deploy
(conftest.py), which test_15_security uses too.
"""
from __future__ import annotations

import json

from conftest import SECOND, SECOND_PRE_START_DUMP, SECOND_SHARED, SECRET, run_workers_module


def environ_of(host, pid: int) -> dict[str, str]:
    raw = host.run(f"cat /proc/{pid}/environ").stdout_bytes
    return dict(entry.decode().partition("=")[::2] for entry in raw.split(b"\0") if entry)


def test_workers_see_every_value_exactly(host, second_app):
    given = second_app["env"]
    failed, result = run_workers_module({"unit": SECOND["app_name"], "expected": 2, "timeout": 60})
    assert not failed, result.get("msg")
    for pid in result["worker_pids"]:
        seen = environ_of(host, pid)
        assert {k: seen.get(k) for k in given} == given, f"worker {pid}"


def test_pre_start_step_sees_every_value_exactly(host, second_app):
    given = second_app["env"]
    seen = json.loads(host.file(SECOND_PRE_START_DUMP).content_string)
    assert {k: seen.get(k) for k in given} == given


def test_no_value_was_run(host, second_app):
    ran = host.run(f"ls {SECOND_SHARED}/ | grep pwned").stdout
    assert ran == "", f"a shell ran part of an env value: {ran}"


def test_values_are_never_shown(host, second_app):
    proc = second_app["proc"]
    assert SECRET not in proc.stdout + proc.stderr, "a value reached Ansible's output (or --diff)"
    journal = host.run(f"journalctl --no-pager -q | grep -c {SECRET}").stdout.strip()
    assert journal == "0", "a value reached the journal"
