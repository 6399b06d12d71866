# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Find the worker processes of a Uvicorn supervisor by reading a /proc tree.

Everything here is a plain function over a ``proc_root`` directory so that the
unit tests can feed fabricated trees; nothing imports psutil or Ansible.

Uvicorn (0.54) starts workers with multiprocessing's "spawn" context, so a
supervisor with ``--workers N`` has N+1 children: N workers whose command line
runs ``multiprocessing.spawn.spawn_main`` and one
``multiprocessing.resource_tracker`` helper that is not a worker.  With one
worker there is no supervisor and the main process serves requests itself.
"""

from __future__ import annotations

import datetime
import os
import time
import typing as t


class NotReady(Exception):
    """The service (or its main process) is not there yet; worth polling again.

    ``info`` carries whatever was learnt (unit state, main pid) so that a
    failure after the timeout can still report it.
    """

    def __init__(self, msg: str, info: dict[str, t.Any] | None = None) -> None:
        super().__init__(msg)
        self.info = info or {}


class Fatal(Exception):
    """A problem that waiting cannot fix (unknown unit, pid that never existed)."""

    def __init__(self, msg: str, info: dict[str, t.Any] | None = None) -> None:
        super().__init__(msg)
        self.info = info or {}


class ProcStat(t.NamedTuple):
    pid: int
    comm: str
    state: str
    ppid: int
    starttime: int  # clock ticks since boot


# Zombies have exited but are not reaped yet; X is "dead" on some kernels.
_GONE_STATES = frozenset(("Z", "X", "x"))
# Reading files of a process that exits under us raises one of these.
_VANISHED = (FileNotFoundError, ProcessLookupError)


# ---------------------------------------------------------------- parsing ---

def parse_stat(text: str) -> ProcStat:
    """Parse /proc/<pid>/stat.

    comm (field 2) is the process name in parentheses and may itself contain
    spaces and ')' characters, so split on the *last* ')'.
    """
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    pid = int(text[:open_paren].strip())
    comm = text[open_paren + 1:close_paren]
    rest = text[close_paren + 1:].split()
    # rest[0] is field 3 (state); starttime is field 22 -> rest[19].
    return ProcStat(pid=pid, comm=comm, state=rest[0], ppid=int(rest[1]), starttime=int(rest[19]))


def parse_cmdline(raw: bytes) -> list[str]:
    """Split /proc/<pid>/cmdline (NUL-separated, usually NUL-terminated)."""
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    if not raw:
        return []  # kernel threads and zombies have an empty cmdline
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0")]


def parse_rss_bytes(status_text: str) -> int | None:
    """Return VmRSS from /proc/<pid>/status in bytes (None if not present)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            fields = line.split()
            value = int(fields[1])
            unit = fields[2].lower() if len(fields) > 2 else "kb"
            return value * 1024 if unit == "kb" else value
    return None


def parse_btime(stat_text: str) -> int:
    """Return the boot time (epoch seconds) from /proc/stat."""
    for line in stat_text.splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise ValueError("no btime line in /proc/stat")


def parse_uptime(uptime_text: str) -> float:
    """Return the seconds since boot from /proc/uptime (first field)."""
    return float(uptime_text.split()[0])


def parse_environ(raw: bytes) -> dict[str, str]:
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            key, value = item.split(b"=", 1)
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def parse_systemctl_show(text: str) -> dict[str, str]:
    """Parse ``systemctl show --property=...`` output (``Key=value`` lines)."""
    props = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            props.setdefault(key.strip(), value.strip())
    return props


def normalize_unit(name: str) -> str:
    """Append ``.service`` unless the name already has a unit suffix."""
    suffixes = (".service", ".socket", ".target", ".scope", ".slice", ".timer",
                ".mount", ".path", ".swap", ".device", ".automount")
    if name.endswith(suffixes):
        return name
    return name + ".service"


def started_epoch(starttime_ticks: int, boot_time: float, clk_tck: int) -> float:
    """Convert a starttime in clock ticks since boot to epoch seconds."""
    return boot_time + starttime_ticks / float(clk_tck)


def iso_utc(epoch: float) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------ classifying argv ---

def is_resource_tracker(argv: list[str]) -> bool:
    return "multiprocessing.resource_tracker" in " ".join(argv)


def is_spawn_worker(argv: list[str]) -> bool:
    """True for a child started by multiprocessing "spawn" (Uvicorn's workers)."""
    joined = " ".join(argv)
    if is_resource_tracker(argv):
        return False
    return "multiprocessing.spawn" in joined or "spawn_main" in joined


def _is_uvicorn_command(argv: list[str]) -> str | None:
    """Return "uvicorn", "fastapi-run", "fastapi-dev" or None for other commands."""
    for i, arg in enumerate(argv):
        base = os.path.basename(arg)
        if base == "uvicorn" or (arg == "uvicorn" and i > 0 and argv[i - 1] == "-m"):
            return "uvicorn"
        if base == "fastapi" or (arg == "fastapi" and i > 0 and argv[i - 1] == "-m"):
            sub = argv[i + 1] if i + 1 < len(argv) else ""
            if sub == "run":
                return "fastapi-run"
            if sub == "dev":
                return "fastapi-dev"
    return None


def _workers_flag(argv: list[str]) -> int | None:
    for i, arg in enumerate(argv):
        value = None
        if arg == "--workers" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--workers="):
            value = arg.split("=", 1)[1]
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def single_process_uvicorn(argv: list[str], environ: dict[str, str] | None) -> bool | None:
    """Decide from the main process' command line whether it serves requests itself.

    True: a uvicorn/fastapi run command without a supervisor (no ``--workers``
    or ``--workers 1`` and no WEB_CONCURRENCY > 1), so it is the one worker.
    False: a supervisor (``--workers`` > 1, ``--reload``/``fastapi dev``) or a
    command we do not recognise (count its spawned children instead).
    None: a uvicorn command without ``--workers`` whose environment could not
    be read (WEB_CONCURRENCY may start a supervisor); the caller decides from
    the children it finds.
    """
    kind = _is_uvicorn_command(argv)
    if kind is None:
        return False
    if "--reload" in argv or (kind == "fastapi-dev" and "--no-reload" not in argv):
        return False  # the reloader supervises one spawned server process
    workers = _workers_flag(argv)
    if workers is None:
        if environ is None:
            return None
        try:
            workers = int(environ.get("WEB_CONCURRENCY", "1"))
        except ValueError:
            workers = 1
    return workers <= 1


# ------------------------------------------------------- reading /proc ---

def read_btime(proc_root: str = "/proc") -> int:
    with open(os.path.join(proc_root, "stat")) as f:
        return parse_btime(f.read())


def read_boot_time(proc_root: str = "/proc", now: t.Callable[[], float] = time.time) -> float:
    """Boot time in epoch seconds, to about 10 ms.

    /proc/stat's btime is whole seconds, too coarse to tell whether a worker
    started before or after an event a second ago; now - uptime is not.
    """
    try:
        with open(os.path.join(proc_root, "uptime")) as f:
            return now() - parse_uptime(f.read())
    except (OSError, ValueError, IndexError):
        return float(read_btime(proc_root))


def read_process(proc_root: str, pid: int) -> dict[str, t.Any] | None:
    """Read stat, cmdline and VmRSS of one process; None if it vanished."""
    base = os.path.join(proc_root, str(pid))
    try:
        with open(os.path.join(base, "stat")) as f:
            stat = parse_stat(f.read())
        with open(os.path.join(base, "cmdline"), "rb") as f:
            argv = parse_cmdline(f.read())
        rss = None
        try:
            with open(os.path.join(base, "status")) as f:
                rss = parse_rss_bytes(f.read())
        except PermissionError:
            pass
    except _VANISHED:
        return None
    except (ValueError, IndexError):
        # A process exiting mid-read can leave an empty or truncated stat.
        return None
    return {
        "pid": pid,
        "ppid": stat.ppid,
        "state": stat.state,
        "starttime": stat.starttime,
        "argv": argv,
        "rss_bytes": rss,
    }


def read_environ(proc_root: str, pid: int) -> dict[str, str] | None:
    """The initial environment of a process, or None when not readable (non-root)."""
    try:
        with open(os.path.join(proc_root, str(pid), "environ"), "rb") as f:
            return parse_environ(f.read())
    except OSError:
        return None


def list_pids(proc_root: str = "/proc") -> list[int]:
    return sorted(int(name) for name in os.listdir(proc_root) if name.isdigit())


def children_of(proc_root: str, parent: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Live children of ``parent``; scans every pid (no CONFIG_PROC_CHILDREN needed)."""
    found = []
    for pid in list_pids(proc_root):
        if pid == parent["pid"]:
            continue
        proc = read_process(proc_root, pid)
        if proc is None or proc["ppid"] != parent["pid"]:
            continue
        if proc["state"] in _GONE_STATES:
            continue
        # A process started before the parent cannot be its child: the pid was
        # reused between our reads.
        if proc["starttime"] < parent["starttime"]:
            continue
        found.append(proc)
    return found


def _worker_entry(proc: dict[str, t.Any], boot_time: float, clk_tck: int) -> dict[str, t.Any]:
    epoch = started_epoch(proc["starttime"], boot_time, clk_tck)
    return {
        "pid": proc["pid"],
        "rss_bytes": proc["rss_bytes"],
        "started_at": iso_utc(epoch),
        "started_epoch": round(epoch, 2),
        "cmdline": " ".join(proc["argv"]),
    }


def find_workers(proc_root: str, main_pid: int, clk_tck: int | None = None) -> dict[str, t.Any]:
    """Snapshot of the Uvicorn workers under ``main_pid``.

    Returns ``{main_pid, worker_pids, worker_count, workers, key,
    main_cmdline, main_is_uvicorn}`` where ``key`` identifies the exact set
    (pid + starttime) for stability checks.
    Raises NotReady when the main process is gone or a zombie.
    """
    if clk_tck is None:
        clk_tck = os.sysconf("SC_CLK_TCK")
    parent = read_process(proc_root, main_pid)
    if parent is None or parent["state"] in _GONE_STATES:
        raise NotReady("process %d is not running" % main_pid, {"main_pid": main_pid})
    boot_time = read_boot_time(proc_root)

    children = children_of(proc_root, parent)
    spawned = [c for c in children if is_spawn_worker(c["argv"])]
    single = single_process_uvicorn(parent["argv"], read_environ(proc_root, main_pid))
    if single is None:
        single = not spawned
    workers = [parent] if single else spawned
    workers.sort(key=lambda p: p["pid"])
    return {
        "main_pid": main_pid,
        "worker_pids": [p["pid"] for p in workers],
        "worker_count": len(workers),
        "workers": [_worker_entry(p, boot_time, clk_tck) for p in workers],
        "key": tuple((p["pid"], p["starttime"]) for p in workers),
        "main_cmdline": " ".join(parent["argv"]),
        "main_is_uvicorn": _is_uvicorn_command(parent["argv"]) is not None,
        "supervised": not single,
    }


def read_pidfile(path: str) -> int:
    """PID from a pidfile; NotReady while it is missing/empty (service starting).

    Messages do not name the file; callers prefix them.
    """
    try:
        with open(path) as f:
            content = f.read().strip()
    except FileNotFoundError:
        raise NotReady("does not exist")
    except OSError as e:
        raise Fatal("cannot be read: %s" % e)
    if not content:
        raise NotReady("is empty")
    try:
        pid = int(content.split()[0])
    except ValueError:
        raise Fatal("does not contain a pid: %r" % content[:80])
    if pid <= 0:
        raise Fatal("contains invalid pid %d" % pid)
    return pid


# ----------------------------------------------------------- unit state ---

def check_unit_state(props: dict[str, str]) -> int:
    """Return MainPID of an active unit, else raise Fatal/NotReady with the state.

    Messages do not name the unit; callers prefix them (see describe_target).
    """
    info = {
        "active_state": props.get("ActiveState"),
        "sub_state": props.get("SubState"),
        "load_state": props.get("LoadState"),
    }
    try:
        main_pid = int(props.get("MainPID") or 0)
    except ValueError:
        main_pid = 0
    info["main_pid"] = main_pid
    state = "ActiveState=%s, SubState=%s, MainPID %d" % (info["active_state"], info["sub_state"], main_pid)
    if info["load_state"] == "not-found":
        raise Fatal("does not exist (LoadState=not-found)", info)
    if info["load_state"] == "masked":
        raise Fatal("is masked (LoadState=masked)", info)
    if info["active_state"] not in ("active", "reloading"):
        raise NotReady("is not running (%s)" % state, info)
    if main_pid == 0:
        # Type=oneshot or forking without PIDFile= leaves systemd without a main pid.
        raise NotReady("has no main process (%s)" % state, info)
    return main_pid


# ---------------------------------------------------------------- waiting ---

def wait_for_workers(
    read: t.Callable[[], dict[str, t.Any]],
    expected: int | None,
    timeout: float,
    settle: float = 0.5,
    interval: float = 0.25,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    started_after: float | None = None,
) -> tuple[bool, dict[str, t.Any] | None, NotReady | None, float]:
    """Poll ``read`` until the expected number of workers is there and stable.

    ``read`` returns a snapshot (see find_workers, plus any unit info) or
    raises NotReady (retried) / Fatal (propagates).  Success needs the same
    worker set (pids and start times) for ``settle`` seconds, so a worker that
    crash-loops is not mistaken for a healthy one; with ``timeout`` 0 one read
    decides.  Without ``expected`` the first good read is returned.  With
    ``started_after`` (epoch seconds) every worker must also have started
    after that moment, e.g. after a new release went live.

    Returns ``(ok, last_snapshot, last_not_ready_error, waited_seconds)``.
    """
    start = clock()
    deadline = start + timeout
    last_key = None
    stable_since = start
    while True:
        now = clock()
        snap = None
        error = None
        try:
            snap = read()
        except NotReady as e:
            error = e
            last_key = None
        if snap is not None:
            key = (snap["main_pid"], snap["key"])
            if key != last_key:
                last_key = key
                stable_since = now
            if expected is None and started_after is None:
                return True, snap, None, now - start
            fresh = snap["worker_count"] > 0 and not older_workers(snap, started_after)
            count_ok = expected is None or snap["worker_count"] == expected
            if count_ok and fresh and (now - stable_since >= settle or now >= deadline):
                return True, snap, None, now - start
        if now >= deadline:
            return False, snap, error, now - start
        sleep(min(interval, deadline - now))


def older_workers(snap: dict[str, t.Any], started_after: float | None) -> list[int]:
    """PIDs of the workers in ``snap`` that started before ``started_after``."""
    if started_after is None:
        return []
    return [w["pid"] for w in snap["workers"] if w["started_epoch"] <= started_after]


def scale_signal(current: int, expected: int) -> str | None:
    """The signal that moves a Uvicorn supervisor one worker towards ``expected``."""
    if current < expected:
        return "SIGTTIN"
    if current > expected:
        return "SIGTTOU"
    return None


def scale_workers(
    first: dict[str, t.Any],
    read: t.Callable[[], dict[str, t.Any]],
    send: t.Callable[[int, str], None],
    expected: int,
    step_timeout: float,
    settle: float = 0.5,
    interval: float = 0.25,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> tuple[bool, dict[str, t.Any] | None, NotReady | None, list[int]]:
    """Add or remove workers one signal at a time until ``expected`` run.

    One signal per step, then wait for its effect: Python merges a burst of the
    same signal into one handler call, so sending several at once loses some.
    ``first`` is the caller's snapshot before any signal, ``send(main_pid,
    signal_name)`` delivers a signal.  Returns ``(ok, last_snapshot,
    last_not_ready_error, counts)`` with the count after each step.
    """
    ok, snap, error = True, first, None
    counts: list[int] = []
    while ok and snap is not None:
        sig = scale_signal(snap["worker_count"], expected)
        if sig is None:
            break
        target = snap["worker_count"] + (1 if sig == "SIGTTIN" else -1)
        send(snap["main_pid"], sig)
        ok, snap, error = wait_for_workers(read, target, step_timeout, settle, interval, clock, sleep)[:3]
        if snap is not None:
            counts.append(snap["worker_count"])
    return ok, snap, error, counts


def describe_target(kind: str, name: str | int, main_pid: int | None = None) -> str:
    """``unit app.service (MainPID 1234)``, ``pidfile /run/app.pid (PID 1234)`` or ``PID 1234``."""
    if kind == "pid":
        return "PID %s" % name
    label = "%s %s" % (kind, name)
    if main_pid:
        label += " (%s %d)" % ("MainPID" if kind == "unit" else "PID", main_pid)
    return label


def failure_message(
    kind: str,
    name: str | int,
    expected: int,
    snap: dict[str, t.Any] | None,
    error: NotReady | None,
    waited: float,
    timeout: float,
    started_after: float | None = None,
) -> str:
    """Message a person can act on, e.g.

    ``unit app.service (MainPID 1234): expected 4 Uvicorn workers, found 3:
    [1301, 1302, 1305] after waiting 30.0 s``

    ``kind`` is "unit", "pidfile" or "pid" and ``name`` its value.
    """
    when = "after waiting %.1f s" % waited if timeout > 0 else "(checked once, timeout 0)"
    if snap is None:
        reason = str(error) if error is not None else "no information"
        msg = "%s: %s %s" % (describe_target(kind, name), reason, when)
        if kind == "unit":
            msg += "; see journalctl -u %s" % name
        return msg
    msg = "%s: expected %d Uvicorn workers, found %d: %s %s" % (
        describe_target(kind, name, snap["main_pid"]), expected, snap["worker_count"],
        snap["worker_pids"], when)
    older = older_workers(snap, started_after)
    if (snap["worker_count"] == expected or not expected) and older and started_after is not None:
        msg = "%s: expected %s Uvicorn workers started after %s, but %d of %d started before: %s %s" % (
            describe_target(kind, name, snap["main_pid"]), expected or "all", iso_utc(started_after), len(older),
            snap["worker_count"], older, when)
    if not snap["worker_count"] and snap.get("main_is_uvicorn") is False:
        # Typically a wrapper script that runs uvicorn without exec.
        msg += "; the main process is not a uvicorn/fastapi command: %r" % snap.get("main_cmdline", "")[:200]
    return msg
