"""Crash safety: a run still open when the process goes away gets a terminal event, in bounded time.

* Unhandled exception: ``sys.excepthook`` remembers it, and the exit hook fails the open runs with it
  (an unhandled KeyboardInterrupt aborts them with SIGINT, as a ``with`` block does).
* ``sys.exit()`` or the end of the script with a run left open: the exit hook aborts it.
* SIGTERM (Glue timeout or stop, EMR step cancel, ``kill``) with no handler of the job's own: the
  open runs are aborted, the sinks flushed, then the default handler is restored and the signal
  re-raised, so the process ends exactly as it would have without the library (same exit status).
* SIGTERM with a handler the job installed before its first run: that handler runs first. If it
  returns, the job handles the stop itself (graceful shutdown) and its runs stay open; if it raises
  (``sys.exit(143)``), the open runs are aborted with the signal before the exception goes on. A
  handler that ends the process without raising (``os._exit``) leaves no time to record anything.
* A signal that arrives while a run is writing its terminal event waits until that event is out.

Threads. Python lets only the main thread install a signal handler: the SIGTERM handler is installed
when lineage_lib is imported in the main thread, and checked again at every run the main thread opens
until one has (so a job handler installed after the import still runs first). A run opened in any
thread is closed on SIGTERM and at exit like the others.

Processes. A run belongs to the process that opened it. In a forked child (``os.fork``,
multiprocessing's fork and forkserver) the inherited open runs and the sinks' buffers are forgotten
at once (``os.register_at_fork``), and SIGTERM is handed back to the handler it had before
lineage_lib: the child's exit hook, its SIGTERM (``Process.terminate()``, ``Pool.terminate()``) and
its unwinding ``with`` blocks record nothing for its parent's runs and send nothing its parent
buffered. A child opens its own run, or joins its parent's with ``lineage_lib.join_run(run.ref())``.
In a process multiprocessing started, lineage_lib never handles SIGTERM: a Python-level SIGTERM
handler in a pool worker can make ``Pool.terminate()`` hang for good (CPython's SemLock.acquire misses
a signal that arrives between its first try and its blocking wait; seen on 3.9 and 3.11 with a
two-line handler and no lineage_lib), so a step a worker left open when it is terminated gets no
terminal event there; its parent records the stop of the run.

A bounded stop. When the process stops (SIGTERM, exit), the open runs are closed and the sinks are
flushed once, within LINEAGE_STOP_TIMEOUT seconds all told (default 3): sinks that can
(the CloudWatch sink) hold their events while the runs close, then send them with timeouts that fit
the time left and no retries, and write what they could not send to standard error as lineage lines.

Runs inside ``with lineage_lib.run(...)`` are closed by the context manager first; these hooks are
the safety net for the rest. The exit hook and the excepthook are installed on the first run opened.
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from lineage_lib import emitter, env
from lineage_lib.context import parse_job_arguments
from lineage_lib.errors import LineageConfigError

if TYPE_CHECKING:
    from lineage_lib.runs import Run

_lock = threading.RLock()
_open_runs: list[Run] = []
pid = os.getpid()  # this process's, updated in a forked child: cheaper than os.getpid() per event
_hooks_installed = False
_sigterm_checked = False  # a run opened in the main thread has checked that the handler is in place
_last_unhandled: BaseException | None = None
_previous_excepthook = sys.excepthook
_previous_sigterm: Any = None
_pending_signal: int | None = None  # put off while a run writes its terminal event
_stop_deadline: float | None = None  # set by the first stop: a later one shares its time


def current_pid() -> int:
    """This process's id, as runs record their owner."""
    return pid


def check_settings() -> None:
    """Raise LineageConfigError for a setting the stop would need and could not use."""
    stop_timeout()


def stop_timeout() -> float:
    """LINEAGE_STOP_TIMEOUT (the variable, else the Glue job argument): seconds the process may spend
    on lineage when it stops (0: none)."""
    raw = os.environ.get(env.STOP_TIMEOUT) or parse_job_arguments(sys.argv[1:]).get(env.STOP_TIMEOUT)
    if not raw:
        return env.DEFAULT_STOP_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise LineageConfigError(
            f"{env.STOP_TIMEOUT}={raw!r}: give the seconds lineage may take when the process stops "
            f"(a number >= 0, default {env.DEFAULT_STOP_TIMEOUT:g}), well under the platform's grace period"
        )
    return value


def register(run: Run) -> None:
    with _lock:
        _install_hooks_once()
        _open_runs.append(run)
        if not _sigterm_checked and threading.current_thread() is threading.main_thread():
            _check_sigterm_handler()


def unregister(run: Run) -> None:
    global _pending_signal  # noqa: PLW0603 (process-wide state)
    with _lock:
        if run in _open_runs:
            _open_runs.remove(run)
        signum = _pending_signal
        if signum is None or _closing_runs():
            return
        _pending_signal = None
    # Deliver it again, now that no terminal event is half-written: the handler runs in the main thread.
    os.kill(os.getpid(), signum)


def _closing_runs() -> list[Run]:
    # runs.py marks a run closed before it emits the terminal event and unregisters it after: a closed
    # run still registered is writing that event at this very moment.
    return [run for run in _open_runs if run.closed]


def _install_hooks_once() -> None:
    global _hooks_installed, _previous_excepthook  # noqa: PLW0603 (process-wide state)
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook


def _check_sigterm_handler() -> None:
    """From the main thread: make _on_sigterm the SIGTERM handler, chained to the one in place (the
    job's own, installed after the import), unless signal handling is off or SIGTERM is ignored."""
    global _sigterm_checked  # noqa: PLW0603 (process-wide state)
    _sigterm_checked = True
    if os.environ.get(env.HANDLE_SIGNALS, "1") == "0":
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:  # installed at import: take it back
            signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)
        return
    _watch_sigterm()


def _in_multiprocessing_child() -> bool:
    """A process multiprocessing started (its name is set before the main module is imported again)."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and (mp.parent_process() is not None or mp.current_process().name != "MainProcess")


def _watch_sigterm() -> None:
    global _previous_sigterm  # noqa: PLW0603 (process-wide state)
    if threading.current_thread() is not threading.main_thread() or _in_multiprocessing_child():
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is _on_sigterm or current is signal.SIG_IGN:  # in place, or the host ignores SIGTERM
            return
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main interpreter: no signal handling possible here
        return


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    global _last_unhandled  # noqa: PLW0603 (process-wide state)
    _last_unhandled = value
    _previous_excepthook(kind, value, tb)


def _stop(*, signal_name: str | None = None) -> None:
    """Close this process's open runs, then flush the sinks once, all within the stop deadline."""
    global _stop_deadline  # noqa: PLW0603 (process-wide state)
    with _lock:
        if _stop_deadline is None:
            try:
                timeout = stop_timeout()
            except LineageConfigError:  # checked when the first run opened; changed since
                timeout = env.DEFAULT_STOP_TIMEOUT
            _stop_deadline = time.monotonic() + timeout
        deadline = _stop_deadline
        runs = list(reversed(_open_runs))
    emitter.hold_all_sinks()  # the terminal events wait in the buffers for the one flush below
    for run in runs:
        try:
            if signal_name is not None:
                run.abort(f"received {signal_name}", signal_name=signal_name)
            elif isinstance(_last_unhandled, KeyboardInterrupt):  # as runs.py records it in a with block
                run.abort("interrupted (SIGINT)", signal_name="SIGINT")
            elif _last_unhandled is not None:
                run.fail(_last_unhandled)
            else:
                run.abort("the process exited while the run was still open")
        except Exception as err:  # nobody is left to raise to: report and close the others
            print(f"lineage_lib: could not close run {run.run_id}: {err}", file=sys.stderr)
    emitter.flush_all_sinks(deadline=deadline)


def _at_exit() -> None:
    _stop()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _pending_signal  # noqa: PLW0603 (process-wide state)
    with _lock:
        if _closing_runs():  # ending the process now would lose that event: unregister() re-delivers
            _pending_signal = signum
            return
    signal_name = signal.Signals(signum).name
    previous = _previous_sigterm
    if callable(previous):
        # The job's handler decides whether the process stops: aborting its runs before it returns
        # would break a graceful shutdown (the job goes on writing to closed steps).
        try:
            previous(signum, frame)
        except BaseException:
            _stop(signal_name=signal_name)
            raise
        return
    _stop(signal_name=signal_name)
    # Default action: restore it and re-deliver, so the exit status is the one of a plain SIGTERM.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _forget_inherited_runs() -> None:
    """In a forked child, at once: the parent's runs and buffered events are the parent's to close
    and send. A lock another thread of the parent held stays held in the child: make a new one."""
    global _lock, pid, _pending_signal, _last_unhandled, _stop_deadline, _sigterm_checked  # noqa: PLW0603
    _lock = threading.RLock()
    pid = os.getpid()
    _open_runs.clear()
    _pending_signal = None
    _last_unhandled = None
    _stop_deadline = None
    emitter.forget_inherited_sinks()
    # SIGTERM as it would be without lineage_lib, until the child opens a run of its own.
    _sigterm_checked = False
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)


os.register_at_fork(after_in_child=_forget_inherited_runs)
# Here, when imported in the main thread: a run opened later in a worker thread could not install it.
if os.environ.get(env.HANDLE_SIGNALS, "1") != "0":
    _watch_sigterm()
