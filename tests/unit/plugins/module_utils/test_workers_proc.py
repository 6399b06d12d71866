# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.asgi.uvicorn.plugins.module_utils import _workers_proc as wp


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


@pytest.mark.parametrize("argv, workers", [
    (["uvicorn", "app:app", "--workers", "4"], 4),
    (["uvicorn", "app:app", "--workers=2"], 2),
    (["uvicorn", "app:app", "--workers", "many"], None),
    (["uvicorn", "app:app", "--workers"], None),  # no value follows
    (["uvicorn", "app:app"], None),
])
def test_workers_flag(argv, workers):
    assert wp.workers_flag(argv) == workers


# ------------------------------------------------- snapshot without /proc ---

def process(pid, ppid, argv, state="S", starttime=100):
    return wp.Process(pid=pid, ppid=ppid, state=state, starttime=starttime, argv=argv, rss_bytes=None)


def test_is_child():
    parent = process(10, 1, ["uvicorn"], starttime=100)
    assert wp.is_child(process(11, 10, [], starttime=100), parent)
    assert not wp.is_child(process(11, 10, [], state="Z"), parent)  # exited, not reaped
    assert not wp.is_child(process(11, 10, [], starttime=99), parent)  # pid reused
    assert not wp.is_child(process(11, 12, []), parent)


def test_snapshot_of_processes_from_elsewhere(argvs):
    # The same decision find_workers makes, for processes read some other way (ps, a test oracle).
    main = process(10, 1, argvs.supervisor(2), starttime=100)
    children = [process(13, 10, argvs.spawn(8), starttime=102), process(11, 10, argvs.tracker(), starttime=101),
                process(12, 10, argvs.spawn(7), starttime=102)]
    snap = wp.snapshot_of(main, children, {}, boot_time=1700000000.0, clk_tck=100)
    assert snap.worker_pids == [12, 13] and snap.worker_count == 2 and snap.supervised
    assert snap.key == ((12, 102), (13, 102))
    assert snap.workers[0].started_epoch == 1700000001.02
    assert snap.main_is_uvicorn and snap.main_cmdline == " ".join(argvs.supervisor(2))

    single = wp.snapshot_of(process(10, 1, ["uvicorn", "app:app"]), [], {}, boot_time=0.0, clk_tck=100)
    assert single.worker_pids == [10] and not single.supervised


# ------------------------------------------------------ fabricated /proc ---

def test_find_workers_excludes_resource_tracker(uvicorn_tree, argvs):
    snap = wp.find_workers(str(uvicorn_tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap.main_pid == 1234
    assert snap.worker_pids == [1301, 1302, 1305]
    assert snap.worker_count == 3
    first = snap.workers[0]
    assert first == wp.Worker(
        pid=1301,
        starttime=5020,
        rss_bytes=51200 * 1024,
        started_at="2023-11-14T22:14:10Z",  # btime + 5020 ticks / 100
        started_epoch=1700000050.2,  # no /proc/uptime in this tree: falls back to btime
        cmdline=" ".join(argvs.spawn(7)),
    )
    assert snap.key == ((1301, 5020), (1302, 5021), (1305, 5022))


def test_find_workers_skips_zombie_unrelated_and_reused_pid(uvicorn_tree, argvs):
    tree = uvicorn_tree
    tree.add(1306, 1234, [], state="Z", starttime=5030, rss_kb=None)  # killed worker not yet reaped
    tree.add(1307, 1234, argvs.spawn(9), state="Z", starttime=5031, rss_kb=None)
    tree.add(1308, 1234, ["/bin/sh", "-c", "/srv/app/pre-start.sh"], starttime=5032)  # hook shell
    # pid reuse: claims the supervisor as parent but started before it.
    tree.add(1309, 1234, argvs.spawn(11), starttime=4000)
    tree.add(1310, 1301, argvs.spawn(12), starttime=5040)  # grandchild (app's own pool)
    snap = wp.find_workers(str(tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [1301, 1302, 1305]


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
    assert snap.worker_pids == [1301, 1305]


def test_find_workers_truncated_stat_is_skipped(uvicorn_tree, argvs):
    (uvicorn_tree.root / "1305" / "stat").write_text("")
    snap = wp.find_workers(str(uvicorn_tree.root), 1234, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [1301, 1302]


def test_find_workers_comm_with_spaces_and_parens(fake_proc, argvs):
    fake_proc.add(50, 1, argvs.supervisor(2), comm="uvicorn (main) x", starttime=10)
    fake_proc.add(51, 50, argvs.tracker(), comm="py) S 1 2", starttime=11)
    fake_proc.add(52, 50, argvs.spawn(7), comm="my worker)", starttime=12)
    fake_proc.add(53, 50, argvs.spawn(8), comm="(( ))", starttime=12)
    snap = wp.find_workers(str(fake_proc.root), 50, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [52, 53]


def test_single_process_uvicorn_is_its_own_worker(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/uvicorn", "app:app", "--port", "8000"]
    fake_proc.add(700, 1, argv, comm="uvicorn", starttime=300, environ={"PATH": "/usr/bin"})
    fake_proc.add(701, 700, ["/bin/sh", "-c", "true"], starttime=301)
    snap = wp.find_workers(str(fake_proc.root), 700, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [700]
    assert snap.workers[0].cmdline == " ".join(argv)


def test_single_process_with_app_spawn_pool_counts_only_itself(fake_proc, argvs):
    # The app itself uses a spawn ProcessPool: those children are not Uvicorn workers.
    fake_proc.add(700, 1, [argvs.venv_python, "-m", "uvicorn", "app:app", "--workers", "1"], starttime=300)
    fake_proc.add(701, 700, argvs.tracker(), starttime=301)
    fake_proc.add(702, 700, argvs.spawn(), starttime=302)
    snap = wp.find_workers(str(fake_proc.root), 700, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [700]


def test_web_concurrency_supervisor_without_workers_flag(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/uvicorn", "app:app"]
    fake_proc.add(800, 1, argv, starttime=300, environ={"WEB_CONCURRENCY": "2"})
    fake_proc.add(801, 800, argvs.tracker(), starttime=301)
    snap = wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == []  # all workers momentarily gone: not the parent
    fake_proc.add(802, 800, argvs.spawn(), starttime=302)
    fake_proc.add(803, 800, argvs.spawn(), starttime=302)
    assert wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck).worker_pids == [802, 803]


def test_unreadable_environ_decides_by_children(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/uvicorn", "app:app"]
    fake_proc.add(800, 1, argv, starttime=300)  # no environ file: like a non-root reader
    assert wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck).worker_pids == [800]
    fake_proc.add(801, 800, argvs.tracker(), starttime=301)
    fake_proc.add(802, 800, argvs.spawn(), starttime=302)
    assert wp.find_workers(str(fake_proc.root), 800, clk_tck=argvs.clk_tck).worker_pids == [802]


def test_fastapi_run_parent(fake_proc, argvs):
    argv = [argvs.venv_python, "/srv/app/venv/bin/fastapi", "run", "--workers", "2", "--port", "8000", "main.py"]
    fake_proc.add(900, 1, argv, comm="fastapi", starttime=300, environ={})
    fake_proc.add(901, 900, argvs.tracker(), starttime=310)
    fake_proc.add(902, 900, argvs.spawn(7), starttime=311)
    fake_proc.add(903, 900, argvs.spawn(8), starttime=312)
    snap = wp.find_workers(str(fake_proc.root), 900, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [902, 903]


def test_fastapi_run_single(fake_proc, argvs):
    fake_proc.add(900, 1, [argvs.venv_python, "/srv/app/venv/bin/fastapi", "run", "main.py"],
                  comm="fastapi", starttime=300, environ={})
    assert wp.find_workers(str(fake_proc.root), 900, clk_tck=argvs.clk_tck).worker_pids == [900]


def test_find_workers_main_process_gone_or_zombie(fake_proc, argvs):
    with pytest.raises(wp.NotReady, match="process 4242 is not running"):
        wp.find_workers(str(fake_proc.root), 4242, clk_tck=argvs.clk_tck)
    fake_proc.add(4242, 1, argvs.supervisor(2), state="Z", starttime=1)
    with pytest.raises(wp.NotReady):
        wp.find_workers(str(fake_proc.root), 4242, clk_tck=argvs.clk_tck)


def test_find_workers_wrapper_main_process(fake_proc, argvs):
    fake_proc.add(60, 1, ["/bin/bash", "/srv/app/start.sh"], comm="bash", starttime=10)
    fake_proc.add(61, 60, argvs.supervisor(2), starttime=11)
    snap = wp.find_workers(str(fake_proc.root), 60, clk_tck=argvs.clk_tck)
    assert snap.worker_pids == [] and snap.main_is_uvicorn is False
    assert snap.main_cmdline == "/bin/bash /srv/app/start.sh"


def test_boot_time_from_uptime_is_finer_than_btime(fake_proc):
    (fake_proc.root / "uptime").write_text("1000.25 1900.00\n")
    assert wp.read_boot_time(str(fake_proc.root), now=lambda: 1700001000.75) == pytest.approx(1700000000.5)


def test_boot_time_falls_back_to_btime(fake_proc):
    assert wp.read_boot_time(str(fake_proc.root)) == 1700000000.0
