# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Find the worker processes of a Uvicorn supervisor by reading a /proc tree.

Internal to the asgi.uvicorn collection (its workers module): not part of the
public API; it can change or go in any release, without deprecation.

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
from dataclasses import dataclass


class NotReady(Exception):
    """The service (or its main process) is not there yet; worth polling again."""


class Fatal(Exception):
    """A problem that waiting cannot fix (unknown unit, pid that never existed)."""


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat that matter here."""

    pid: int
    comm: str
    state: str
    ppid: int
    starttime: int  # clock ticks since boot


@dataclass(frozen=True)
class Process:
    """One process as read from /proc (or built by a caller from ps output)."""

    pid: int
    ppid: int
    state: str
    starttime: int  # clock ticks since boot
    argv: list[str]
    rss_bytes: int | None = None

    @property
    def gone(self) -> bool:
        return self.state in _GONE_STATES

    @property
    def cmdline(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Worker:
    """One Uvicorn worker of a snapshot."""

    pid: int
    starttime: int  # clock ticks since boot: with the pid, names this exact process
    started_epoch: float  # rounded to hundredths
    started_at: str  # ISO-8601 UTC, to the second
    cmdline: str
    rss_bytes: int | None


@dataclass(frozen=True)
class Snapshot:
    """The Uvicorn workers under one main process at one moment."""

    main_pid: int
    workers: tuple[Worker, ...]  # sorted by pid
    supervised: bool  # a supervisor that can add and retire workers
    main_cmdline: str
    main_is_uvicorn: bool

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    @property
    def worker_count(self) -> int:
        return len(self.workers)

    @property
    def key(self) -> tuple[tuple[int, int], ...]:
        """The exact worker set: a replaced worker may reuse a pid, not its start time."""
        return tuple((w.pid, w.starttime) for w in self.workers)


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


def uvicorn_command(argv: list[str]) -> str | None:
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


def workers_flag(argv: list[str]) -> int | None:
    """The value of ``--workers`` (or ``--workers=N``); None when absent or not a number."""
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
    kind = uvicorn_command(argv)
    if kind is None:
        return False
    if "--reload" in argv or (kind == "fastapi-dev" and "--no-reload" not in argv):
        return False  # the reloader supervises one spawned server process
    workers = workers_flag(argv)
    if workers is None:
        if environ is None:
            return None
        try:
            workers = int(environ.get("WEB_CONCURRENCY", "1"))
        except ValueError:
            workers = 1
    return workers <= 1


# ------------------------------------------------------ building a snapshot ---

def is_child(proc: Process, parent: Process) -> bool:
    """A live child of ``parent``, not a pid reused since ``parent`` started."""
    # A process started before the parent cannot be its child: the pid was
    # reused between our reads.
    return proc.ppid == parent.pid and not proc.gone and proc.starttime >= parent.starttime


def worker_of(proc: Process, boot_time: float, clk_tck: int) -> Worker:
    epoch = started_epoch(proc.starttime, boot_time, clk_tck)
    return Worker(pid=proc.pid, starttime=proc.starttime, started_epoch=round(epoch, 2),
                  started_at=iso_utc(epoch), cmdline=proc.cmdline, rss_bytes=proc.rss_bytes)


def snapshot_of(
    main: Process,
    children: list[Process],
    environ: dict[str, str] | None,
    boot_time: float,
    clk_tck: int,
) -> Snapshot:
    """Decide which processes are the Uvicorn workers of ``main``; no I/O.

    ``children`` are the live children of ``main`` (see is_child), ``environ``
    its environment or None when unreadable.
    """
    spawned = [c for c in children if is_spawn_worker(c.argv)]
    single = single_process_uvicorn(main.argv, environ)
    if single is None:
        single = not spawned
    workers = [main] if single else sorted(spawned, key=lambda p: p.pid)
    return Snapshot(
        main_pid=main.pid,
        workers=tuple(worker_of(p, boot_time, clk_tck) for p in workers),
        supervised=not single,
        main_cmdline=main.cmdline,
        main_is_uvicorn=uvicorn_command(main.argv) is not None,
    )


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


def read_process(proc_root: str, pid: int) -> Process | None:
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
    return Process(pid=pid, ppid=stat.ppid, state=stat.state, starttime=stat.starttime, argv=argv, rss_bytes=rss)


def read_environ(proc_root: str, pid: int) -> dict[str, str] | None:
    """The initial environment of a process, or None when not readable (non-root)."""
    try:
        with open(os.path.join(proc_root, str(pid), "environ"), "rb") as f:
            return parse_environ(f.read())
    except OSError:
        return None


def list_pids(proc_root: str = "/proc") -> list[int]:
    return sorted(int(name) for name in os.listdir(proc_root) if name.isdigit())


def children_of(proc_root: str, parent: Process) -> list[Process]:
    """Live children of ``parent``; scans every pid (no CONFIG_PROC_CHILDREN needed)."""
    found = []
    for pid in list_pids(proc_root):
        if pid == parent.pid:
            continue
        proc = read_process(proc_root, pid)
        if proc is not None and is_child(proc, parent):
            found.append(proc)
    return found


def find_workers(proc_root: str, main_pid: int, clk_tck: int | None = None) -> Snapshot:
    """Snapshot of the Uvicorn workers under ``main_pid``.

    Raises NotReady when the main process is gone or a zombie.
    """
    if clk_tck is None:
        clk_tck = os.sysconf("SC_CLK_TCK")
    main = read_process(proc_root, main_pid)
    if main is None or main.gone:
        raise NotReady("process %d is not running" % main_pid)
    boot_time = read_boot_time(proc_root)
    return snapshot_of(main, children_of(proc_root, main), read_environ(proc_root, main_pid), boot_time, clk_tck)
