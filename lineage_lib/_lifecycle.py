"""Crash safety: a run still open when the interpreter goes away gets a terminal event.

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

Runs inside ``with lineage_lib.run(...)`` are closed by the context manager first; these hooks are
the safety net for the rest. The hooks are installed once, on the first run opened.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from lineage_lib import env
from lineage_lib.emitter import flush_all_sinks

if TYPE_CHECKING:
    from lineage_lib.runs import Run

log = logging.getLogger(__name__)

_lock = threading.RLock()
_open_runs: list[Run] = []
_installed = False
_last_unhandled: BaseException | None = None
_previous_excepthook = sys.excepthook
_previous_sigterm: Any = None
_pending_signal: int | None = None  # put off while a run writes its terminal event


def register(run: Run) -> None:
    with _lock:
        _install_once()
        _open_runs.append(run)


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


def _install_once() -> None:
    global _installed, _previous_excepthook, _previous_sigterm  # noqa: PLW0603 (process-wide state)
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if os.environ.get(env.HANDLE_SIGNALS, "1") == "0":
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_IGN:  # the host chose to ignore SIGTERM: respect that
            return
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: no signal handling possible here
        log.debug("lineage_lib: not in the main thread, SIGTERM is not watched")


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    global _last_unhandled  # noqa: PLW0603 (process-wide state)
    _last_unhandled = value
    _previous_excepthook(kind, value, tb)


def _close_open_runs(*, signal_name: str | None = None) -> None:
    with _lock:
        runs = list(reversed(_open_runs))
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
    flush_all_sinks()


def _at_exit() -> None:
    _close_open_runs()


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
            _close_open_runs(signal_name=signal_name)
            raise
        return
    _close_open_runs(signal_name=signal_name)
    # Default action: restore it and re-deliver, so the exit status is the one of a plain SIGTERM.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
