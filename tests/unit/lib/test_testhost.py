# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tests/lib/testhost.py: the ps oracle and the inventory writer the test tools rely on."""

from __future__ import annotations

import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))

import testhost  # noqa: E402

# `ps -o pid=,args= --ppid MAINPID` under a Uvicorn parent with 2 workers, one just killed.
PS = """\
    101 /srv/app/venv/bin/python3 -c from multiprocessing.resource_tracker import main;main(4)
    102 /srv/app/venv/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7) --multiprocessing-fork
    103 [python3] <defunct>
     99 /srv/app/venv/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=9) --multiprocessing-fork
"""


def test_workers_are_spawned_children_sorted_without_tracker_or_zombie():
    children = testhost.parse_children(PS)
    assert children.workers == [99, 102]
    assert children.trackers == [101]
    assert children.others == ["103 [python3] <defunct>"]


def test_no_children():
    assert testhost.parse_children("") == testhost.Children([], [], [])


def test_inventory_is_yaml_with_one_docker_host(tmp_path):
    path = tmp_path / "inventory.yml"
    hostvars = {"app_name": "shop", "proxy_server_aliases": ["172.17.0.2"], "ansible_pipelining": True}
    assert testhost.write_inventory(path, "asgi-uvicorn-x", hostvars)
    assert not testhost.write_inventory(path, "asgi-uvicorn-x", hostvars)
    host = yaml.safe_load(path.read_text())["asgi_uvicorn"]["hosts"]["asgi-uvicorn-x"]
    assert host == {"ansible_connection": "community.docker.docker",
                    "ansible_python_interpreter": "/usr/bin/python3", **hostvars}


def test_networks_shared_by_platforms_once_each():
    platforms = [{"name": "lb", "network": {"name": "net", "subnet": "10.9.0.0/24", "address": "10.9.0.10"}},
                 {"name": "app", "network": {"name": "net", "subnet": "10.9.0.0/24", "address": "10.9.0.11"}},
                 {"name": "ca", "network": {"name": "other"}},
                 {"name": "alone"}]
    assert testhost.networks(platforms) == {"net": "10.9.0.0/24", "other": ""}
