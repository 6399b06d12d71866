"""Uvicorn's --limit-concurrency and the socket's backlog are what the variables say."""
from __future__ import annotations

from conftest import UNIT, workers


def test_limit_concurrency_reaches_uvicorn(host, app_name):
    main_pid, _ = workers(host)
    args = host.file(f"/proc/{main_pid}/cmdline").content_string.split("\0")
    wanted = str(host.ansible.get_variables()["service_limit_concurrency"])
    assert args[args.index("--limit-concurrency") + 1] == wanted, args


def test_backlog_reaches_the_socket(host):
    wanted = int(host.ansible.get_variables()["service_backlog"])
    # ss shows a listening socket's backlog in its Send-Q column.
    line = host.check_output(f"ss -xlnH src /run/{UNIT}/uvicorn.sock")
    assert int(line.split()[3]) == wanted, line
