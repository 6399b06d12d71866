# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ``ansible_collections.asgi.uvicorn`` importable from a plain checkout.

``ansible-test units`` runs from inside an ``ansible_collections/asgi/uvicorn``
tree, where the import already works and nothing is done here.  Plain
``pytest tests/unit`` from the repository root gets a temporary
``ansible_collections/asgi/uvicorn`` symlink to the checkout on sys.path.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile


def _ensure_collection_importable() -> None:
    try:
        import ansible_collections.asgi.uvicorn.plugins  # noqa: F401
        return
    except ImportError:
        pass

    # tests/unit/conftest.py -> repository root
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tmp = tempfile.mkdtemp(prefix="asgi-uvicorn-collections-")
    atexit.register(shutil.rmtree, tmp, True)
    namespace_dir = os.path.join(tmp, "ansible_collections", "asgi")
    os.makedirs(namespace_dir)
    os.symlink(repo_root, os.path.join(namespace_dir, "uvicorn"))
    sys.path.insert(0, tmp)

    # A failed import above may have cached an ansible_collections package
    # (e.g. from ansible's own installed collections); forget it so the new
    # path is searched.
    for name in list(sys.modules):
        if name == "ansible_collections" or name.startswith("ansible_collections.asgi"):
            del sys.modules[name]


_ensure_collection_importable()


# --------------------------------------------------------------------------
# Shared fixtures: a fabricated /proc tree for the workers module tests.

import pytest  # noqa: E402

BTIME = 1700000000  # /proc/stat btime of the fake machine (2023-11-14T22:13:20Z)
CLK_TCK = 100


class FakeProc:
    """Writes just enough of /proc/<pid>/{stat,cmdline,status,environ} for _workers_proc."""

    def __init__(self, root) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "stat").write_text("cpu  1 2 3 4\nbtime %d\nprocesses 42\n" % BTIME)

    def add(self, pid, ppid, argv, state="S", starttime=1000, comm="python3", rss_kb=51200,
            environ=None, cmdline_raw=None):
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        # Fields 3..22 of /proc/<pid>/stat; starttime is field 22.
        fields = [state, str(ppid), str(ppid), "0", "0", "-1", "4194560", "5170", "0", "0", "0",
                  "13", "1", "0", "0", "20", "0", "2", "0", str(starttime)]
        tail = ["113164288", "7890"] + ["0"] * 30
        (d / "stat").write_text("%d (%s) %s\n" % (pid, comm, " ".join(fields + tail)))
        if cmdline_raw is None:
            cmdline_raw = b"".join(a.encode() + b"\0" for a in argv)
        (d / "cmdline").write_bytes(cmdline_raw)
        status = "Name:\t%s\nState:\t%s\nPPid:\t%d\n" % (comm[:15], state, ppid)
        if rss_kb is not None:
            status += "VmRSS:\t%8d kB\n" % rss_kb
        (d / "status").write_text(status)
        if environ is not None:
            (d / "environ").write_bytes(b"".join(("%s=%s" % kv).encode() + b"\0" for kv in environ.items()))
        return pid

    def remove(self, pid):
        import shutil as _shutil
        _shutil.rmtree(str(self.root / str(pid)))


VENV_PY = "/srv/app/venv/bin/python3"


def spawn_argv(pipe_handle=7):
    return [VENV_PY, "-B", "-c",
            "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=%d)" % pipe_handle,
            "--multiprocessing-fork"]


def tracker_argv():
    return [VENV_PY, "-B", "-c", "from multiprocessing.resource_tracker import main;main(4)"]


def supervisor_argv(workers=4):
    return [VENV_PY, "/srv/app/venv/bin/uvicorn", "app.main:app", "--workers", str(workers),
            "--host", "127.0.0.1", "--port", "8000"]


@pytest.fixture
def fake_proc(tmp_path):
    return FakeProc(tmp_path / "proc")


@pytest.fixture
def uvicorn_tree(fake_proc):
    """Supervisor 1234 with resource tracker 1300 and workers 1301, 1302, 1305."""
    fake_proc.add(1234, 1, supervisor_argv(4), comm="uvicorn", starttime=5000, environ={"PATH": "/usr/bin"})
    fake_proc.add(1300, 1234, tracker_argv(), starttime=5010)
    for i, pid in enumerate((1301, 1302, 1305)):
        fake_proc.add(pid, 1234, spawn_argv(7 + i), starttime=5020 + i)
    fake_proc.add(999, 1, ["/usr/sbin/sshd", "-D"], starttime=100)  # unrelated process
    return fake_proc


@pytest.fixture
def argvs():
    """Command lines as observed from Uvicorn 0.54 (see the real-process test)."""
    import types
    return types.SimpleNamespace(spawn=spawn_argv, tracker=tracker_argv, supervisor=supervisor_argv,
                                 venv_python=VENV_PY, btime=BTIME, clk_tck=CLK_TCK)
