"""A budget of time and memory for work on one file that a person dropped in.

Reading and checking a story is bounded by construction (`files.py`, the
YAML limits in `stories.py`, linear counting in `counting.py`), and tests
prove each known case. This module is the safety net for the cases nobody
has thought of yet: `run_bounded` runs a function in a worker process with a
wall-clock limit and an address-space limit, and turns a call that runs over
either into `OverBudget`, so that one file can never hang `campaign check` or
stop the scheduler. A worker that ran over is killed; the next call starts a
new one. Between calls the worker lives on, so its caches (fonts, counts)
stay warm and a check costs no more than it would in this process.

The worker is forked from this process when it runs no other thread (the
command line: instant, everything already imported), and from a fork server
otherwise (the scheduler, the workspace and the tests run threads, and
forking a process with threads can deadlock the child on a lock another
thread held). Where neither exists (not Linux or macOS), the function runs in
this process, bounded only by construction.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from campaign import i18n
from campaign.i18n import _

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")

#: Seconds a story's check may take. A story takes about 50 ms; the known hostile files
#: are refused in milliseconds; this only catches what nobody has thought of.
STORY_SECONDS = 5.0
#: Memory a story's check may use on top of what the process had when its worker started.
STORY_MEMORY = 768 * 1024 * 1024
# The modules a fork server's workers need, imported once when it starts.
_PRELOAD = ["campaign.check"]


class OverBudget(Exception):
    """The work ran over its time or memory limit, or its process died."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind  # "time", "memory" or "crash"
        super().__init__(message)


def _context() -> Any:
    import multiprocessing  # only when a story is checked: an unchanged week never is

    if sys.platform == "win32" or not hasattr(os, "fork"):
        return None
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _serve(connection: Connection, parent_end: Connection | None, memory: int) -> None:
    """The worker: answer calls until the other end closes (or this process is killed).

    A forked worker holds a copy of the parent's end of the pipe too: closed first,
    so that the parent's death (even by SIGKILL) ends the worker, and with it its
    copies of the parent's other files (the ledger's locks among them).
    """
    if parent_end is not None:
        parent_end.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    try:
        import resource

        used = _address_space()
        if used is not None:
            limit = used + memory
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    while True:
        try:
            function, args, language = connection.recv()
        except (EOFError, OSError):
            return
        try:
            if language != i18n.language():  # the messages speak the caller's language
                i18n.set_language(language)
            result: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            gc.collect()  # what the function held is garbage now: room to answer
            result = ("memory", None)
        except Exception as exc:  # raised again in the parent
            result = ("raised", exc)
        try:
            try:
                connection.send(result)
            except MemoryError:
                connection.send(("memory", None))
            except (BrokenPipeError, ConnectionError):
                raise
            except Exception as exc:  # a result that cannot be pickled: a bug of ours
                connection.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))
        except OSError:
            return  # the parent is gone
        if result[0] == "memory":
            return  # a fresh worker for the next call


class Worker:
    """One worker process, started on first use and again after it was killed."""

    def __init__(self, memory: int = STORY_MEMORY) -> None:
        self.memory = memory
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Connection | None = None
        self._pid = os.getpid()

    def _start(self, context: Any) -> Connection:
        ours: Connection
        ours, theirs = context.Pipe(duplex=True)
        forked = context.get_start_method() == "fork"
        process = context.Process(target=_serve, args=(theirs, ours if forked else None, self.memory),
                                  daemon=True)
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        return ours

    def _stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        self._process = self._connection = None

    def call(self, function: Callable[..., T], *args: Any, seconds: float = STORY_SECONDS) -> T:
        """`function(*args)` in the worker; OverBudget if it takes longer than `seconds`,
        runs out of memory, or the worker dies. An exception it raises is raised here."""
        import multiprocessing

        context = _context()
        if context is None or multiprocessing.current_process().daemon:
            return function(*args)
        with self._lock:
            if self._pid != os.getpid():  # forked: the worker belongs to the parent
                self._process = self._connection = None
                self._pid = os.getpid()
            connection = self._connection
            if connection is None or self._process is None or not self._process.is_alive():
                self._stop()
                connection = self._start(context)
            try:
                connection.send((function, args, i18n.language()))
                if not connection.poll(seconds):
                    self._stop()
                    raise OverBudget("time", _("took longer than {seconds} seconds").format(
                        seconds=f"{seconds:g}"))
                kind, value = connection.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._stop()
                raise OverBudget("crash", _("stopped without an answer")) from None
        if kind == "memory":
            with self._lock:
                self._stop()  # it is on its way out: the next call starts a fresh one
            raise OverBudget("memory", _("needed more than {mb} MB of memory").format(
                mb=self.memory // (1024 * 1024)))
        if kind == "raised":
            raise value
        result: T = value
        return result

    def close(self) -> None:
        with self._lock:
            self._stop()


_default = Worker()


def run_bounded(function: Callable[..., T], *args: Any, seconds: float | None = None) -> T:
    """`function(*args)` in this process's story worker, within `seconds` (default
    STORY_SECONDS) and STORY_MEMORY.

    `function` must be a module-level function, and its arguments and result picklable.
    """
    return _default.call(function, *args, seconds=STORY_SECONDS if seconds is None else seconds)
