# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.asgi.uvicorn.plugins.module_utils import workers_proc as wp


# ------------------------------------------------------------- parsing ---

def test_parse_stat_plain():
    text = "3794 (python) S 3791 3787 3305 0 -1 4194560 5170 0 0 0 13 1 0 0 20 0 2 0 8593 113164288 7890 0 0\n"
    st = wp.parse_stat(text)
    assert st == wp.ProcStat(pid=3794, comm="python", state="S", ppid=3791, starttime=8593)


@pytest.mark.parametrize("comm", ["my worker", "a) b (c", "))", "x) S 1 2 3"])
def test_parse_stat_comm_with_spaces_and_parens(comm):
    text = "42 (%s) R 7 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n" % comm
    st = wp.parse_stat(text)
    assert (st.comm, st.state, st.ppid, st.starttime) == (comm, "R", 7, 777)


def test_parse_cmdline():
    assert wp.parse_cmdline(b"python3\0-c\0print(1)\0") == ["python3", "-c", "print(1)"]
    assert wp.parse_cmdline(b"no-trailing\0nul") == ["no-trailing", "nul"]
    assert wp.parse_cmdline(b"") == []
    assert wp.parse_cmdline(b"caf\xe9\0") == ["caf\ufffd"]


def test_parse_rss_and_btime():
    assert wp.parse_rss_bytes("Name:\tx\nVmRSS:\t   7890 kB\n") == 7890 * 1024
    assert wp.parse_rss_bytes("Name:\tx\nState:\tZ (zombie)\n") is None
    assert wp.parse_btime("cpu 1 2\nbtime 1700000000\n") == 1700000000
    with pytest.raises(ValueError):
        wp.parse_btime("cpu 1 2\n")


def test_started_at_iso():
    assert wp.iso_utc(wp.started_epoch(0, 1700000000, 100)) == "2023-11-14T22:13:20Z"
    assert wp.iso_utc(wp.started_epoch(12345, 1700000000, 100)) == "2023-11-14T22:15:23Z"


def test_parse_systemctl_show():
    out = "MainPID=1234\nActiveState=active\nSubState=running\nLoadState=loaded\n\nbogus line\n"
    assert wp.parse_systemctl_show(out) == {
        "MainPID": "1234", "ActiveState": "active", "SubState": "running", "LoadState": "loaded"}
    # Values may contain '='; keep the first occurrence of a key.
    assert wp.parse_systemctl_show("A=b=c\nA=d\n") == {"A": "b=c"}


@pytest.mark.parametrize("name, unit", [
    ("app", "app.service"), ("app.service", "app.service"), ("my.app", "my.app.service"),
    ("app@1", "app@1.service"), ("app.socket", "app.socket")])
def test_normalize_unit(name, unit):
    assert wp.normalize_unit(name) == unit


def test_check_unit_state():
    props = {"MainPID": "1234", "ActiveState": "active", "SubState": "running", "LoadState": "loaded"}
    assert wp.check_unit_state(props) == 1234
    assert wp.check_unit_state(dict(props, ActiveState="reloading")) == 1234
    with pytest.raises(wp.Fatal, match="does not exist"):
        wp.check_unit_state({"MainPID": "0", "ActiveState": "inactive", "SubState": "dead", "LoadState": "not-found"})
    with pytest.raises(wp.NotReady, match=r"not running \(ActiveState=failed, SubState=failed, MainPID 0\)") as e:
        wp.check_unit_state({"MainPID": "0", "ActiveState": "failed", "SubState": "failed", "LoadState": "loaded"})
    assert e.value.info["active_state"] == "failed"
    with pytest.raises(wp.NotReady, match="no main process"):
        wp.check_unit_state(dict(props, MainPID="0"))


def test_read_pidfile(tmp_path):
    f = tmp_path / "app.pid"
    with pytest.raises(wp.NotReady, match="does not exist"):
        wp.read_pidfile(str(f))
    f.write_text("")
    with pytest.raises(wp.NotReady, match="is empty"):
        wp.read_pidfile(str(f))
    f.write_text("garbage\n")
    with pytest.raises(wp.Fatal, match="does not contain a pid"):
        wp.read_pidfile(str(f))
    f.write_text("4321\n")
    assert wp.read_pidfile(str(f)) == 4321


# ------------------------------------------------------ classifying argv ---

def test_spawn_worker_and_tracker(argvs):
    assert wp.is_spawn_worker(argvs.spawn())
    assert not wp.is_spawn_worker(argvs.tracker())
    assert wp.is_resource_tracker(argvs.tracker())
    assert not wp.is_spawn_worker(["/bin/sh", "-c", "sleep 100"])
    # setproctitle-style single-string command lines still match.
    assert wp.is_spawn_worker([" ".join(argvs.spawn())])


@pytest.mark.parametrize("argv, env, single", [
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app"], {}, True),
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app", "--workers", "1"], {}, True),
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app", "--workers=1"], {}, True),
    (["/v/bin/python3", "-m", "uvicorn", "app:app", "--workers", "3"], {}, False),
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app"], {"WEB_CONCURRENCY": "4"}, False),
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app", "--workers", "1"], {"WEB_CONCURRENCY": "4"}, True),
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app"], None, None),  # environ unreadable
    (["/v/bin/python3", "/v/bin/uvicorn", "app:app", "--reload"], {}, False),
    (["/v/bin/python3", "/v/bin/fastapi", "run", "main.py"], {}, True),
    (["/v/bin/python3", "/v/bin/fastapi", "run", "--workers", "4", "main.py"], {}, False),
    (["/v/bin/python3", "/v/bin/fastapi", "dev", "main.py"], {}, False),
    (["/v/bin/python3", "main.py"], {}, False),  # unknown launcher: count spawned children
    (["/usr/sbin/nginx"], {}, False),
])
def test_single_process_uvicorn(argv, env, single):
    assert wp.single_process_uvicorn(argv, env) is single


# ------------------------------------------------------ fabricated /proc ---

def test_find_workers_excludes_resource_tracker(uvicorn_tree, argvs):
    snap = wp.find_workers(str(uvicorn_tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap["main_pid"] == 1234
    assert snap["worker_pids"] == [1301, 1302, 1305]
    assert snap["worker_count"] == 3
    first = snap["workers"][0]
    assert first == {
        "pid": 1301,
        "rss_bytes": 51200 * 1024,
        "started_at": "2023-11-14T22:14:10Z",  # btime + 5020 ticks / 100
        "started_epoch": 1700000050.2,  # no /proc/uptime in this tree: falls back to btime
        "cmdline": " ".join(argvs.spawn(7)),
    }
    assert snap["key"] == ((1301, 5020), (1302, 5021), (1305, 5022))


def test_find_workers_skips_zombie_unrelated_and_reused_pid(uvicorn_tree, argvs):
    tree = uvicorn_tree
    tree.add(1306, 1234, [], state="Z", starttime=5030, rss_kb=None)  # killed worker not yet reaped
    tree.add(1307, 1234, argvs.spawn(9), state="Z", starttime=5031, rss_kb=None)
    tree.add(1308, 1234, ["/bin/sh", "-c", "/srv/app/pre-start.sh"], starttime=5032)  # hook shell
    # pid reuse: claims the supervisor as parent but started before it.
    tree.add(1309, 1234, argvs.spawn(11), starttime=4000)
    tree.add(1310, 1301, argvs.spawn(12), starttime=5040)  # grandchild (app's own pool)
    snap = wp.find_workers(str(tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [1301, 1302, 1305]


def test_find_workers_process_vanishes_between_listdir_and_read(uvicorn_tree, argvs, monkeypatch):
    tree = uvicorn_tree
    real_list_pids = wp.list_pids
    # 1400 is listed but its directory is gone by the time it is read.
    monkeypatch.setattr(wp, "list_pids", lambda root: real_list_pids(root) + [1400])
    # 1401 vanishes between reading stat and cmdline.
    tree.add(1401, 1234, argvs.spawn(13), starttime=5050)
    os.unlink(str(tree.root / "1401" / "cmdline"))
    # 1302 exits while its stat is read (the kernel answers ESRCH).
    real_open = open

    def flaky_open(path, *args, **kwargs):
        if str(path).endswith(os.path.join("1302", "stat")):
            raise ProcessLookupError(3, "No such process")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(wp, "open", flaky_open, raising=False)
    snap = wp.find_workers(str(tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [1301, 1305]


def test_find_workers_truncated_stat_is_skipped(uvicorn_tree, argvs):
    (uvicorn_tree.root / "1305" / "stat").write_text("")
    snap = wp.find_workers(str(uvicorn_tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [1301, 1302]


def test_find_workers_comm_with_spaces_and_parens(fake_proc, argvs):
    fake_proc.add(50, 1, argvs.supervisor(2), comm="uvicorn (main) x", starttime=10)
    fake_proc.add(51, 50, argvs.tracker(), comm="py) S 1 2", starttime=11)
    fake_proc.add(52, 50, argvs.spawn(7), comm="my worker)", starttime=12)
    fake_proc.add(53, 50, argvs.spawn(8), comm="(( ))", starttime=12)
    snap = wp.find_workers(str(fake_proc.root), 50, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [52, 53]


def test_single_process_uvicorn_is_its_own_worker(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/uvicorn", "app:app", "--port", "8000"]
    fake_proc.add(700, 1, argv, comm="uvicorn", starttime=300, environ={"PATH": "/usr/bin"})
    fake_proc.add(701, 700, ["/bin/sh", "-c", "true"], starttime=301)
    snap = wp.find_workers(str(fake_proc.root), 700, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [700]
    assert snap["workers"][0]["cmdline"] == " ".join(argv)


def test_single_process_with_app_spawn_pool_counts_only_itself(fake_proc, argvs):
    # The app itself uses a spawn ProcessPool: those children are not Uvicorn workers.
    fake_proc.add(700, 1, [argvs.venv_python, "-m", "uvicorn", "app:app", "--workers", "1"], starttime=300)
    fake_proc.add(701, 700, argvs.tracker(), starttime=301)
    fake_proc.add(702, 700, argvs.spawn(), starttime=302)
    snap = wp.find_workers(str(fake_proc.root), 700, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [700]


def test_web_concurrency_supervisor_without_workers_flag(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/uvicorn", "app:app"]
    fake_proc.add(800, 1, argv, starttime=300, environ={"WEB_CONCURRENCY": "2"})
    fake_proc.add(801, 800, argvs.tracker(), starttime=301)
    snap = wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == []  # all workers momentarily gone: not the parent
    fake_proc.add(802, 800, argvs.spawn(), starttime=302)
    fake_proc.add(803, 800, argvs.spawn(), starttime=302)
    assert wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck)["worker_pids"] == [802, 803]


def test_unreadable_environ_decides_by_children(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/uvicorn", "app:app"]
    fake_proc.add(800, 1, argv, starttime=300)  # no environ file: like a non-root reader
    assert wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck)["worker_pids"] == [800]
    fake_proc.add(801, 800, argvs.tracker(), starttime=301)
    fake_proc.add(802, 800, argvs.spawn(), starttime=302)
    assert wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck)["worker_pids"] == [802]


def test_fastapi_run_parent(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/fastapi", "run", "--workers", "2", "--port", "8000", "main.py"]
    fake_proc.add(900, 1, argv, comm="fastapi", starttime=300, environ={})
    fake_proc.add(901, 900, argvs.tracker(), starttime=310)
    fake_proc.add(902, 900, argvs.spawn(7), starttime=311)
    fake_proc.add(903, 900, argvs.spawn(8), starttime=312)
    snap = wp.find_workers(str(fake_proc.root), 900, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [902, 903]


def test_fastapi_run_single(fake_proc, argvs):
    fake_proc.add(900, 1, [argvs.venv_python, "/srv/app/venv/bin/fastapi", "run", "main.py"],
                  comm="fastapi", starttime=300, environ={})
    assert wp.find_workers(str(fake_proc.root), 900, clk_tck=argvs.clk_tck)["worker_pids"] == [900]


def test_find_workers_main_process_gone_or_zombie(fake_proc, argvs):
    with pytest.raises(wp.NotReady, match="process 4242 is not running"):
        wp.find_workers(str(fake_proc.root), 4242, clk_tck=argvs.clk_tck)
    fake_proc.add(4242, 1, argvs.supervisor(2), state="Z", starttime=1)
    with pytest.raises(wp.NotReady):
        wp.find_workers(str(fake_proc.root), 4242, clk_tck=argvs.clk_tck)


# ----------------------------------------------------------- wait logic ---

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def snap_of(pids, main_pid=1234, starttimes=None):
    starttimes = starttimes or [1] * len(pids)
    return {"main_pid": main_pid, "worker_pids": list(pids), "worker_count": len(pids), "workers": [],
            "key": tuple(zip(pids, starttimes))}


def scripted(*steps):
    """Reader returning (or raising) the given steps; the last one repeats forever."""
    steps = list(steps)
    calls = []

    def read():
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        calls.append(step)
        if isinstance(step, Exception):
            raise step
        return step
    read.calls = calls
    return read


def test_wait_succeeds_after_settle():
    clock = FakeClock()
    read = scripted(snap_of([1, 2]), snap_of([1, 2, 3]))
    ok, snap, err, waited = wp.wait_for_workers(read, 3, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert ok and err is None
    assert snap["worker_pids"] == [1, 2, 3]
    # first read (2 workers), then 3 workers at t=0.25, stable at t=0.75
    assert waited == pytest.approx(0.75)
    assert len(read.calls) == 4


def test_wait_restarts_settle_when_set_changes():
    clock = FakeClock()
    # Same count but a worker was replaced (new pid) -> settle starts over.
    read = scripted(snap_of([1, 2, 3]), snap_of([1, 2, 3]), snap_of([1, 2, 4]), snap_of([1, 2, 4]),
                    snap_of([1, 2, 4]))
    ok, snap, err, waited = wp.wait_for_workers(read, 3, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert ok and snap["worker_pids"] == [1, 2, 4]
    assert waited == pytest.approx(1.0)


def test_wait_treats_restarted_process_with_same_pid_as_change():
    clock = FakeClock()
    read = scripted(snap_of([1, 2], starttimes=[5, 5]), snap_of([1, 2], starttimes=[5, 9]),
                    snap_of([1, 2], starttimes=[5, 9]))
    ok, snap, err, waited = wp.wait_for_workers(read, 2, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert ok and waited == pytest.approx(0.75)


def test_wait_times_out_with_last_snapshot():
    clock = FakeClock()
    read = scripted(snap_of([1301, 1302, 1305]))
    ok, snap, err, waited = wp.wait_for_workers(read, 4, 2, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert not ok
    assert snap["worker_pids"] == [1301, 1302, 1305]
    assert waited == pytest.approx(2.0)
    assert max(clock.sleeps) <= 0.25


def test_wait_timeout_zero_reads_once():
    clock = FakeClock()
    read = scripted(snap_of([1, 2, 3]))
    ok, snap, err, waited = wp.wait_for_workers(read, 3, 0, clock=clock, sleep=clock.sleep)
    assert ok and waited == 0 and clock.sleeps == [] and len(read.calls) == 1
    ok, snap, err, waited = wp.wait_for_workers(read, 4, 0, clock=clock, sleep=clock.sleep)
    assert not ok and clock.sleeps == []


def test_wait_short_timeout_accepts_match_at_deadline():
    clock = FakeClock()
    read = scripted(snap_of([7, 8]))
    ok, snap, err, waited = wp.wait_for_workers(read, 2, 0.3, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert ok and waited == pytest.approx(0.3)


def test_wait_without_expected_reports_first_read():
    clock = FakeClock()
    read = scripted(snap_of([1]))
    ok, snap, err, waited = wp.wait_for_workers(read, None, 30, clock=clock, sleep=clock.sleep)
    assert ok and snap["worker_count"] == 1 and waited == 0


def test_wait_repolls_not_ready_until_service_is_back():
    clock = FakeClock()
    down = wp.NotReady("is not running (ActiveState=activating, SubState=auto-restart, MainPID 0)")
    read = scripted(down, down, snap_of([1, 2]))
    ok, snap, err, waited = wp.wait_for_workers(read, 2, 30, settle=0.5, interval=0.25, clock=clock, sleep=clock.sleep)
    assert ok and waited == pytest.approx(1.0)


def test_wait_not_ready_until_timeout_returns_last_error():
    clock = FakeClock()
    read = scripted(wp.NotReady("first"), wp.NotReady("last"))
    ok, snap, err, waited = wp.wait_for_workers(read, 2, 1, clock=clock, sleep=clock.sleep)
    assert not ok and snap is None and str(err) == "last" and waited == pytest.approx(1.0)


def test_wait_fatal_propagates_immediately():
    clock = FakeClock()
    with pytest.raises(wp.Fatal):
        wp.wait_for_workers(scripted(wp.Fatal("does not exist")), 2, 30, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


# ------------------------------------------------------------- messages ---

def test_failure_message_count_mismatch():
    msg = wp.failure_message("unit", "app.service", 4, snap_of([1301, 1302, 1305]), None, 30.0, 30)
    assert msg == "unit app.service (MainPID 1234): expected 4 Uvicorn workers, found 3: [1301, 1302, 1305] " \
                  "after waiting 30.0 s"


def test_failure_message_names_a_wrapper_main_process():
    snap = dict(snap_of([]), main_cmdline="/bin/bash /srv/app/start.sh", main_is_uvicorn=False)
    assert wp.failure_message("unit", "app.service", 2, snap, None, 30.0, 30) == (
        "unit app.service (MainPID 1234): expected 2 Uvicorn workers, found 0: [] after waiting 30.0 s; "
        "the main process is not a uvicorn/fastapi command: '/bin/bash /srv/app/start.sh'")


def test_find_workers_wrapper_main_process(fake_proc, argvs):
    fake_proc.add(60, 1, ["/bin/bash", "/srv/app/start.sh"], comm="bash", starttime=10)
    fake_proc.add(61, 60, argvs.supervisor(2), starttime=11)
    snap = wp.find_workers(str(fake_proc.root), 60, clk_tck=argvs.clk_tck)
    assert snap["worker_pids"] == [] and snap["main_is_uvicorn"] is False
    assert snap["main_cmdline"] == "/bin/bash /srv/app/start.sh"


def test_failure_message_variants():
    assert wp.failure_message("pid", 1234, 2, snap_of([]), None, 0, 0) == \
        "PID 1234: expected 2 Uvicorn workers, found 0: [] (checked once, timeout 0)"
    assert wp.failure_message("pidfile", "/run/app.pid", 2, snap_of([5]), None, 1.234, 1).startswith(
        "pidfile /run/app.pid (PID 1234): expected 2 Uvicorn workers, found 1: [5] after waiting 1.2 s")
    err = wp.NotReady("is not running (ActiveState=failed, SubState=failed, MainPID 0)")
    assert wp.failure_message("unit", "app.service", 2, None, err, 30.0, 30) == (
        "unit app.service: is not running (ActiveState=failed, SubState=failed, MainPID 0) after waiting 30.0 s; "
        "see journalctl -u app.service")


# ------------------------------------------------------- real Uvicorn ---

APP = textwrap.dedent("""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_serving(proc: subprocess.Popen, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("uvicorn exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not serve on port %d" % port)


@pytest.fixture
def real_uvicorn(tmp_path):
    """Start ``python -m uvicorn`` on a free loopback port; yields a starter."""
    pytest.importorskip("uvicorn")
    (tmp_path / "tinyapp.py").write_text(APP)
    procs = []
    # WEB_CONCURRENCY would change the number of workers behind our back.
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}

    def start(*extra: str) -> subprocess.Popen:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tinyapp:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"] + list(extra),
            cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        procs.append(proc)
        _wait_serving(proc, port)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The supervisor did not shut down: kill it and whatever workers remain.
                for pid in wp.list_pids("/proc"):
                    info = wp.read_process("/proc", pid)
                    if info and info["ppid"] == proc.pid:
                        os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait()


def _wait_real(pid: int, expected: int, timeout: float = 20.0):
    ok, snap, err, waited = wp.wait_for_workers(lambda: wp.find_workers("/proc", pid), expected, timeout)
    assert ok, wp.failure_message("pid", pid, expected, snap, err, waited, timeout)
    return snap


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_real_uvicorn_workers_kill_and_ttin(real_uvicorn):
    server = real_uvicorn("--workers", "3")
    snap = _wait_real(server.pid, 3)
    assert snap["worker_count"] == 3
    for worker in snap["workers"]:
        assert "spawn_main" in worker["cmdline"] and "resource_tracker" not in worker["cmdline"]
        assert worker["rss_bytes"] > 0
        assert worker["started_at"].endswith("Z")

    # The supervisor's resource tracker is a child but not a worker.
    children = wp.children_of("/proc", wp.read_process("/proc", server.pid))
    trackers = [c["pid"] for c in children if wp.is_resource_tracker(c["argv"])]
    assert len(trackers) == 1 and trackers[0] not in snap["worker_pids"]
    assert len(children) == 4

    # A killed worker is replaced; the wait returns a fresh stable set without it.
    victim = snap["worker_pids"][0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the kernel has turned it into a zombie (or it is reaped)
        info = wp.read_process("/proc", victim)
        if info is None or info["state"] in ("Z", "X") or info["ppid"] != server.pid:
            break
        time.sleep(0.02)
    snap2 = _wait_real(server.pid, 3)
    assert victim not in snap2["worker_pids"]
    assert len(set(snap2["worker_pids"]) - set(snap["worker_pids"])) == 1

    # SIGTTIN adds a worker.
    os.kill(server.pid, signal.SIGTTIN)
    snap3 = _wait_real(server.pid, 4)
    assert set(snap2["worker_pids"]) < set(snap3["worker_pids"])


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_real_uvicorn_single_process(real_uvicorn):
    server = real_uvicorn()
    snap = _wait_real(server.pid, 1, timeout=5)
    assert snap["worker_pids"] == [server.pid]


# ------------------------------------------------- release gate, scaling ---

def test_boot_time_from_uptime_is_finer_than_btime(fake_proc):
    (fake_proc.root / "uptime").write_text("1000.25 1900.00\n")
    assert wp.read_boot_time(str(fake_proc.root), now=lambda: 1700001000.75) == pytest.approx(1700000000.5)


def test_boot_time_falls_back_to_btime(fake_proc):
    assert wp.read_boot_time(str(fake_proc.root)) == 1700000000.0


def test_older_workers():
    snap = {"workers": [{"pid": 1, "started_epoch": 100.0}, {"pid": 2, "started_epoch": 100.5}]}
    assert wp.older_workers(snap, None) == []
    assert wp.older_workers(snap, 100.2) == [1]
    assert wp.older_workers(snap, 99.0) == []


@pytest.mark.parametrize("current, expected, sig", [(4, 6, "SIGTTIN"), (6, 2, "SIGTTOU"), (3, 3, None)])
def test_scale_signal(current, expected, sig):
    assert wp.scale_signal(current, expected) == sig


class FakeSupervisor:
    """Answers read() like find_workers and reacts to TTIN/TTOU like Uvicorn's supervisor."""

    def __init__(self, count, deaf=False, burst_merge=False):
        self.pids = list(range(101, 101 + count))
        self.next_pid = 200
        self.sent = []
        self.deaf = deaf

    def read(self):
        return {"main_pid": 1, "worker_pids": list(self.pids), "worker_count": len(self.pids),
                "key": tuple(self.pids), "workers": [{"pid": p, "started_epoch": 0.0} for p in self.pids],
                "supervised": True}

    def send(self, pid, sig):
        assert pid == 1
        self.sent.append(sig)
        if self.deaf:
            return
        if sig == "SIGTTIN":
            self.pids.append(self.next_pid)
            self.next_pid += 1
        elif sig == "SIGTTOU" and len(self.pids) > 1:
            self.pids.pop()


def _fast_clock():
    now = [0.0]

    def clock():
        return now[0]

    def sleep(seconds):
        now[0] += seconds
    return clock, sleep


@pytest.mark.parametrize("start, target, signals", [(4, 6, ["SIGTTIN"] * 2), (6, 2, ["SIGTTOU"] * 4), (3, 3, [])])
def test_scale_workers_one_signal_per_step(start, target, signals):
    sup = FakeSupervisor(start)
    clock, sleep = _fast_clock()
    ok, snap, error, counts = wp.scale_workers(sup.read(), sup.read, sup.send, target, 5, settle=0.5,
                                               clock=clock, sleep=sleep)
    assert ok and error is None
    assert sup.sent == signals
    assert snap["worker_count"] == target
    step = 1 if target > start else -1
    assert counts == list(range(start + step, target + step, step)) if signals else counts == []


def test_scale_workers_stops_when_a_signal_has_no_effect():
    sup = FakeSupervisor(2, deaf=True)
    clock, sleep = _fast_clock()
    ok, snap, error, counts = wp.scale_workers(sup.read(), sup.read, sup.send, 4, 3, settle=0.5,
                                               clock=clock, sleep=sleep)
    assert not ok
    assert sup.sent == ["SIGTTIN"]  # no second signal while the first had no effect
    assert snap["worker_count"] == 2 and counts == [2]


def test_wait_for_workers_started_after_waits_for_new_workers():
    sup = FakeSupervisor(2)
    clock, sleep = _fast_clock()
    reads = []

    def read():
        snap = sup.read()
        # both workers replaced after 2 s of (fake) time, like a rolling restart
        epoch = 10.0 if clock() >= 2 else 0.0
        for w in snap["workers"]:
            w["started_epoch"] = epoch
        reads.append(clock())
        return snap
    ok, snap, _, waited = wp.wait_for_workers(read, 2, 10, settle=0.5, clock=clock, sleep=sleep, started_after=5.0)
    assert ok and waited >= 2
    ok, snap, _, waited = wp.wait_for_workers(read, 2, 1, settle=0.5, clock=clock, sleep=sleep, started_after=50.0)
    assert not ok
    msg = wp.failure_message("unit", "app.service", 2, snap, None, waited, 1, started_after=50.0)
    assert "expected 2 Uvicorn workers started after 1970-01-01T00:00:50Z, but 2 of 2 started before: [101, 102]" in msg


def test_started_after_without_expected_needs_all_workers_new():
    sup = FakeSupervisor(3)
    clock, sleep = _fast_clock()

    def read():
        snap = sup.read()
        for i, w in enumerate(snap["workers"]):  # one worker replaced per second
            w["started_epoch"] = 10.0 if clock() >= i + 1 else 0.0
        return snap
    ok, snap, _, waited = wp.wait_for_workers(read, None, 10, settle=0.5, clock=clock, sleep=sleep, started_after=5.0)
    assert ok and waited >= 3


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_real_uvicorn_scale_and_rolling_restart(real_uvicorn):
    server = real_uvicorn("--workers", "2")
    first = _wait_real(server.pid, 2)

    def read():
        return wp.find_workers("/proc", server.pid)

    def send(pid, sig):
        os.kill(pid, getattr(signal, sig))
    ok, snap, err, counts = wp.scale_workers(first, read, send, 4, 20)
    assert ok, err
    assert counts == [3, 4] and snap["main_pid"] == server.pid
    ok, snap, err, counts = wp.scale_workers(snap, read, send, 2, 20)
    assert ok and counts == [3, 2]

    # After HUP (rolling restart) every worker is newer than the moment of the signal.
    moment = time.time()
    assert not wp.older_workers(snap, moment - 60)
    assert wp.older_workers(snap, moment) == snap["worker_pids"]
    os.kill(server.pid, signal.SIGHUP)
    ok, fresh, err, _ = wp.wait_for_workers(read, 2, 30, started_after=moment)
    assert ok, wp.failure_message("pid", server.pid, 2, fresh, err, 30, 30, started_after=moment)
    assert not set(fresh["worker_pids"]) & set(first["worker_pids"])
