"""A run belongs to the process that opened it: forked children (multiprocessing's pools and
processes, os.fork) never end, abort or write to their parent's run through what they inherited, and
record into it only when they join it explicitly (lineage_lib.join_run), with every start method.

Before the fix, a child's SIGTERM (Pool.__exit__ terminates its workers) or its exit aborted the
parent's run: ``with mp.Pool(2) as pool: pool.map(...)`` left 4 runs of 10 ABORTED.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lineage_lib.contract import EventType
from tests.functional.job_support import PYTHONS, by_run, python_for, run_job, terminal_events

PRELUDE = """\
import multiprocessing as mp, os, signal, sys, time
from pathlib import Path
import lineage_lib

HERE = Path(sys.argv[1])
OUT = lineage_lib.s3("curated-bucket", "daily")
FORK = mp.get_context("fork")


def square(x):
    return x * x


def wait_for(name):
    deadline = time.monotonic() + 30
    while not (HERE / name).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def sleep_until_killed(name):
    (HERE / name).write_text("ready")
    time.sleep(60)
"""
RUNS_WITH_A_POOL = 25
POOL_MAP = f"""
if __name__ == "__main__":
    for i in range({RUNS_WITH_A_POOL}):
        with lineage_lib.run("pool-job", run_id=f"pool-run-{{i}}") as run, run.step("map") as step:
            with FORK.Pool(2) as pool:  # leaving the block terminates the workers (SIGTERM)
                assert pool.map(square, range(20)) == [x * x for x in range(20)]
            step.write(OUT, records=20)
"""
PROCESS_TERMINATE = """
if __name__ == "__main__":
    with lineage_lib.run("process-job") as run, run.step("work") as step:
        child = FORK.Process(target=sleep_until_killed, args=("child-ready",))
        child.start()
        wait_for("child-ready")
        child.terminate()
        child.join()
        (HERE / "child-status").write_text(str(child.exitcode))
        step.write(OUT, records=1)
"""
POOL_TERMINATE = """
if __name__ == "__main__":
    with lineage_lib.run("pool-terminate-job") as run, run.step("work") as step:
        pool = FORK.Pool(2)
        pool.map_async(sleep_until_killed, ["worker-ready", "worker-ready"])
        wait_for("worker-ready")
        pool.terminate()
        pool.join()
        step.write(OUT, records=1)
"""
OS_FORK_EXIT = """
with lineage_lib.run("fork-job") as run, run.step("work") as step:
    step.write(OUT, records=1)
    pid = os.fork()
    if pid == 0:
        sys.exit(1)  # unwinds the inherited with blocks in the child
    _, status = os.waitpid(pid, 0)
    (HERE / "child-status").write_text(str(os.WEXITSTATUS(status)))
"""
INHERITED_OBJECTS = """
with lineage_lib.run("fork-job") as run, run.step("work") as step:
    pid = os.fork()
    if pid == 0:
        try:
            step.write(OUT, records=1)
        except lineage_lib.LineageStateError as err:
            (HERE / "child-error").write_text(str(err))
        os._exit(0)
    os.waitpid(pid, 0)
"""
JOIN = """
def load(args):
    ref, part = args
    with lineage_lib.join_run(ref) as run, run.step(f"load-{part}") as step:
        step.write(lineage_lib.s3("curated-bucket", f"orders/part={part}"), records=part)
    return os.getpid()


if __name__ == "__main__":
    with lineage_lib.run("join-job", tags={"team": "finance"}) as run:
        with mp.get_context(METHOD).Pool(2) as pool:
            workers = pool.map(load, [(run.ref(), part) for part in range(4)])
        (HERE / "worker-pids").write_text(" ".join(map(str, set(workers))))
        (HERE / "parent-pid").write_text(str(os.getpid()))
"""


def _only_complete(events: list[dict[str, object]]) -> dict[str, list[str]]:
    runs = by_run(events)
    for run_id, types in runs.items():
        assert terminal_events(types) == [EventType.RUN_COMPLETE], (run_id, types)
        assert types[0] == EventType.RUN_START, types
        assert EventType.STEP_FAIL not in types, types
    return runs


@pytest.mark.parametrize("version", PYTHONS)
def test_runs_with_a_pool_map_each_end_once_and_complete(tmp_path: Path, version: str) -> None:
    done = run_job(tmp_path, PRELUDE + POOL_MAP, python=python_for(version), timeout=240)
    assert done.returncode == 0, done.stderr
    runs = _only_complete(done.events())
    assert sorted(runs) == sorted(f"pool-run-{i}" for i in range(RUNS_WITH_A_POOL))
    assert set(map(tuple, runs.values())) == {
        ("RUN_START", "STEP_START", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE")
    }


@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize("job", ["process_terminate", "pool_terminate"])
def test_a_terminated_child_leaves_the_parents_run_to_complete(
    tmp_path: Path, version: str, job: str
) -> None:
    body = {"process_terminate": PROCESS_TERMINATE, "pool_terminate": POOL_TERMINATE}[job]
    done = run_job(tmp_path, PRELUDE + body, python=python_for(version))
    assert done.returncode == 0, done.stderr
    (types,) = _only_complete(done.events()).values()
    assert types == ["RUN_START", "STEP_START", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"]
    if job == "process_terminate":  # and the child still ends as SIGTERM ends a process
        assert (tmp_path / "child-status").read_text() == "-15"


@pytest.mark.parametrize("version", PYTHONS)
def test_sys_exit_in_a_forked_child_inside_the_with_blocks_records_nothing(
    tmp_path: Path, version: str
) -> None:
    done = run_job(tmp_path, PRELUDE + OS_FORK_EXIT, python=python_for(version))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "child-status").read_text() == "1"
    (types,) = _only_complete(done.events()).values()
    assert types == ["RUN_START", "STEP_START", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"]


@pytest.mark.parametrize("version", PYTHONS)
def test_a_child_cannot_write_through_the_objects_it_inherited(tmp_path: Path, version: str) -> None:
    done = run_job(tmp_path, PRELUDE + INHERITED_OBJECTS, python=python_for(version))
    assert done.returncode == 0, done.stderr
    message = (tmp_path / "child-error").read_text()
    assert "was opened by process" in message
    assert "lineage_lib.join_run(ref)" in message
    (types,) = _only_complete(done.events()).values()
    assert types == ["RUN_START", "STEP_START", "STEP_COMPLETE", "RUN_COMPLETE"]


@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_children_join_the_parents_run_with_every_start_method(
    tmp_path: Path, version: str, method: str
) -> None:
    body = PRELUDE + f"METHOD = {method!r}\n" + JOIN
    done = run_job(tmp_path, body, python=python_for(version), timeout=120)
    assert done.returncode == 0, done.stderr
    events = done.events()
    (types,) = _only_complete(events).values()
    assert types.count("RUN_START") == 1
    steps = {e["step"] for e in events if e["event_type"] == "STEP_START"}
    assert steps == {f"load-{part}" for part in range(4)}
    for part in range(4):
        step_types = [e["event_type"] for e in events if e.get("step") == f"load-{part}"]
        assert step_types == ["STEP_START", "WRITE", "STEP_COMPLETE"]
    written = {e["target"]["id"] for e in events if e["event_type"] == "WRITE"}
    assert written == {f"s3://curated-bucket/orders/part={part}" for part in range(4)}
    # The run's identity and tags, the parent's context, from processes that are not the parent.
    assert {(e["pipeline_id"], e["attempt"], e["tags"]["team"]) for e in events} == {
        ("join-job", 0, "finance")
    }
    assert len({str(e["context"]) for e in events}) == 1
    workers = set((tmp_path / "worker-pids").read_text().split())
    assert workers
    assert (tmp_path / "parent-pid").read_text() not in workers
    assert str(os.getpid()) not in workers
