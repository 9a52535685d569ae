"""SIGTERM is watched however runs are opened: only the main thread can install a signal handler, so
lineage_lib installs it when imported there, and again at a main-thread run when the import came from
another thread. Runs opened in threads are aborted on SIGTERM like the others.

Before the fix, a first run opened in a worker thread left SIGTERM unwatched for the whole process:
every later run, main thread included, stayed RUNNING when Glue or EMR stopped the job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.job_support import PYTHONS, SIGTERM_STATUS, by_run, python_for, run_job

PRELUDE = """\
import os, signal, sys, threading, time
from pathlib import Path

HERE = Path(sys.argv[1])


def in_a_thread(target):
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()


def wait_for_sigterm():
    (HERE / "ready").write_text("ready")
    time.sleep(60)
"""
WORKER_RUN_LEFT_OPEN = """
import lineage_lib

def work():
    run = lineage_lib.run("threaded-job", run_id="worker-run")
    run.step("aggregate").read(lineage_lib.s3("raw-bucket", "orders"), records=1)
    wait_for_sigterm()

in_a_thread(work)
"""
FIRST_RUN_IN_A_WORKER_THEN_MAIN = """
import lineage_lib

def work():
    with lineage_lib.run("threaded-job", run_id="worker-run") as run, run.step("aggregate") as step:
        step.read(lineage_lib.s3("raw-bucket", "orders"), records=1)

in_a_thread(work)
run = lineage_lib.run("threaded-job", run_id="main-run")
run.step("aggregate").read(lineage_lib.s3("raw-bucket", "orders"), records=1)
wait_for_sigterm()
"""
# lineage_lib imported by the worker thread: nothing could be installed then; the main thread's run does it.
IMPORTED_IN_A_WORKER = """
def work():
    import lineage_lib

    run = lineage_lib.run("threaded-job", run_id="worker-run")
    run.step("aggregate").read(lineage_lib.s3("raw-bucket", "orders"), records=1)

in_a_thread(work)
import lineage_lib

run = lineage_lib.run("threaded-job", run_id="main-run")
run.step("aggregate").read(lineage_lib.s3("raw-bucket", "orders"), records=1)
wait_for_sigterm()
"""
JOB_HANDLER_AFTER_THE_IMPORT = """
import lineage_lib

def on_term(signum, frame):
    (HERE / "job-handler-ran").write_text("yes")
    sys.exit(143)

signal.signal(signal.SIGTERM, on_term)

def work():
    with lineage_lib.run("threaded-job", run_id="worker-run"):
        pass

in_a_thread(work)
run = lineage_lib.run("threaded-job", run_id="main-run")
wait_for_sigterm()
"""
ABORTED = ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
COMPLETED = ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_COMPLETE"]


def _aborted_by_sigterm(events: list[dict[str, object]], run_id: str) -> None:
    (abort,) = [e for e in events if e["run_id"] == run_id and e["event_type"] == "RUN_ABORT"]
    assert abort["error"] == {"type": "Aborted", "message": "received SIGTERM", "signal": "SIGTERM"}


@pytest.mark.parametrize("version", PYTHONS)
def test_sigterm_aborts_a_run_a_worker_thread_opened(tmp_path: Path, version: str) -> None:
    done = run_job(tmp_path, PRELUDE + WORKER_RUN_LEFT_OPEN, python=python_for(version), signal_when="ready")
    assert done.returncode == SIGTERM_STATUS, done.stderr
    events = done.events()
    assert by_run(events) == {"worker-run": ABORTED}
    _aborted_by_sigterm(events, "worker-run")


@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize("job", ["first_run_in_a_worker", "imported_in_a_worker"])
def test_sigterm_aborts_the_main_threads_run_after_a_worker_threads(
    tmp_path: Path, version: str, job: str
) -> None:
    body = {
        "first_run_in_a_worker": FIRST_RUN_IN_A_WORKER_THEN_MAIN,
        "imported_in_a_worker": IMPORTED_IN_A_WORKER,
    }
    done = run_job(tmp_path, PRELUDE + body[job], python=python_for(version), signal_when="ready")
    assert done.returncode == SIGTERM_STATUS, done.stderr
    events = done.events()
    runs = by_run(events)
    assert runs["main-run"] == ABORTED
    _aborted_by_sigterm(events, "main-run")
    # The worker's run: completed in the thread, or left open there and aborted with the main one.
    assert runs["worker-run"] == (COMPLETED if job == "first_run_in_a_worker" else ABORTED)


@pytest.mark.parametrize("version", PYTHONS)
def test_a_job_handler_installed_after_the_import_still_runs_first(tmp_path: Path, version: str) -> None:
    done = run_job(
        tmp_path, PRELUDE + JOB_HANDLER_AFTER_THE_IMPORT, python=python_for(version), signal_when="ready"
    )
    assert done.returncode == 143, done.stderr
    assert (tmp_path / "job-handler-ran").read_text() == "yes"
    events = done.events()
    assert by_run(events) == {
        "worker-run": ["RUN_START", "RUN_COMPLETE"],
        "main-run": ["RUN_START", "RUN_ABORT"],
    }
    _aborted_by_sigterm(events, "main-run")


@pytest.mark.parametrize("version", PYTHONS)
def test_importing_the_library_alone_leaves_the_exit_status_of_sigterm(tmp_path: Path, version: str) -> None:
    done = run_job(
        tmp_path,
        PRELUDE + "import lineage_lib\nwait_for_sigterm()\n",
        python=python_for(version),
        signal_when="ready",
    )
    assert done.returncode == SIGTERM_STATUS, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
