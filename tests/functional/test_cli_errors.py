"""The ``lineage`` command as users run it, a real process given what users give it (issue 11, point 9):
a user's mistake is one line on standard error and its documented exit code, never a traceback; a
closed pipe ends the command quietly; Ctrl-C is one line; a defect of lineage itself is one line naming
the file that holds its traceback, with its own exit code (lineage_cli.exits)."""

from __future__ import annotations

import gzip
import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_cli.exits import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_SOFTWARE,
    EXIT_USAGE,
)
from tests.conftest import REPO, load_examples

TIMEOUT = 60  # seconds any one command may take here (a generous bound, not a timing assertion)


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The tree under test on the path, no AWS setup from the machine, temporary files in tmp_path."""
    ambient = (
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    )
    env = {k: v for k, v in os.environ.items() if k not in ambient and not k.startswith("LINEAGE_")}
    env.update(
        PYTHONPATH=str(REPO),
        TMPDIR=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def lineage(tmp_path: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lineage_cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment(tmp_path),
        timeout=TIMEOUT,
        check=False,
    )


def valid_lines() -> str:
    return "".join(json.dumps(event) + "\n" for _, event in load_examples("valid"))


def invalid_lines(count: int) -> str:
    return "".join(f'{{"schema_version": "1.0", "event_id": "line-{n}"}}\n' for n in range(count))


def archive_object(path: Path) -> Path:
    """A gzip archive object as the validator writes it: each event's line with ``ingest`` appended."""
    ingest = {"ingested_at": "2026-11-21T10:00:00Z", "log_group": "/aws-glue/jobs/output", "batch_id": "b1"}
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps({**event, "ingest": ingest}) for _, event in load_examples("valid"))
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode()))
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "a-folder" / "notes").mkdir(parents=True)
    (tmp_path / "a-folder" / "notes" / "readme.txt").write_text("nothing to validate here")
    (tmp_path / "program.bin").write_bytes(Path(sys.executable).read_bytes()[:20_000])
    (tmp_path / "utf16.jsonl").write_text(valid_lines(), encoding="utf-16")
    (tmp_path / "truncated.json.gz").write_bytes(gzip.compress(valid_lines().encode())[:-40])
    archive_object(tmp_path / "archive" / "events" / "event_date=2026-11-21" / "pipeline_id=p" / "b1.json.gz")
    return tmp_path


def assert_one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    assert (done.returncode, len(done.stderr.splitlines())) == (code, 1), done.stderr
    assert done.stderr.startswith("lineage"), done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["validate", "missing.jsonl"], "missing.jsonl: no such file or folder"),
        (["validate", "a-folder"], "a-folder: a folder with no lineage file in it"),
        (["validate", "program.bin"], "program.bin: a binary file, not JSON lines"),
        (["validate", "utf16.jsonl"], "utf16.jsonl: a binary file"),
        (["validate", "truncated.json.gz"], "truncated.json.gz: cannot be read past line"),
        (["valdate", "events.jsonl"], "invalid choice: 'valdate'"),
        ([], "the following arguments are required: COMMAND"),
        (["upstream"], "the following arguments are required: NAME"),
        (["upstream", "raw_db.orders_raw", "--formt", "json"], "unrecognized arguments: --formt json"),
        (["upstream", "raw_db.orders_raw", "--format", "yaml"], "invalid choice: 'yaml'"),
        (["downstream", "raw_db.orders_raw", "--depth", "0"], "'0' is not a whole number >= 1"),
        (["upstream", "raw_db.orders_raw", "--since", "yesterday"], "'yesterday' is not a day"),
        (["upstream", "raw_db.orders_raw", "--archive", "no-such-archive"], "no lineage archive at"),
        (["upstream", "raw_db.orders_raw", "--athena", "lineage"], "AWS: You must specify a region"),
        (["runs", "--limit", "ten"], "'ten' is not a whole number >= 1"),
        (["demo", "--job", "no-such-job.py"], "job script no-such-job.py not found"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2_never_a_traceback(argv: list[str], says: str, inputs: Path) -> None:
    done = lineage(inputs, *argv)
    assert says in assert_one_line(done, EXIT_USAGE)
    assert done.stdout == ""


def test_archive_objects_and_folders_of_them_are_validated_without_their_ingest_object(inputs: Path) -> None:
    done = lineage(inputs, "validate", "archive/events/event_date=2026-11-21/pipeline_id=p/b1.json.gz")
    count = len(load_examples("valid"))
    assert (done.returncode, done.stderr) == (EXIT_OK, "")
    assert done.stdout == f"{count} valid, 0 invalid\n"
    done = lineage(inputs, "validate", "archive")
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_OK, f"{count} valid, 0 invalid\n", "")


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(inputs: Path) -> None:
    many = inputs / "many-invalid.jsonl"
    many.write_text(invalid_lines(20_000))  # about 2 MB of reasons: far more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "lineage_cli", "validate", str(many)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(inputs),
        cwd=inputs,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()  # `| head -1`
    process.stdout.close()
    code = process.wait(timeout=TIMEOUT)
    stderr = process.stderr.read().decode()
    assert first.startswith(f"{many}:1: ".encode())
    assert (code, stderr) == (EXIT_PIPE_CLOSED, "")


def test_the_shell_sees_a_closed_pipe_as_it_sees_any_unix_tool_s(inputs: Path) -> None:
    (inputs / "many-invalid.jsonl").write_text(invalid_lines(20_000))
    script = (
        f"set -o pipefail; {sys.executable} -m lineage_cli validate many-invalid.jsonl | head -1 >/dev/null; "
        'echo "lineage $?"; yes | head -1 >/dev/null; echo "yes $?"'
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=inputs, env=environment(inputs),
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.stdout.splitlines() == [f"lineage {EXIT_PIPE_CLOSED}", f"yes {EXIT_PIPE_CLOSED}"]
    assert done.stderr == ""


def test_validate_streams_its_input_and_ctrl_c_is_one_line_and_130(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lineage_cli", "validate", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(tmp_path, PYTHONUNBUFFERED="1"),  # each line as printed, as on a terminal
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        process.stdin.write(b'{"not": "an event"}\n')
        process.stdin.flush()
        with selectors.DefaultSelector() as selector:  # standard input stays open: no end of file yet
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=TIMEOUT), "no report before the end of the input: not streamed"
        assert process.stdout.readline().decode().startswith("-:1: not a lineage-plane event")
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert (code, process.stderr.read().decode()) == (EXIT_INTERRUPTED, "lineage validate: interrupted\n")


def test_a_defect_of_lineage_is_one_line_naming_the_traceback_s_file_and_exit_70(inputs: Path) -> None:
    crash = (
        "import lineage_cli.validate as v\n"
        "def broken(self, line, archived=False): return 1 / 0\n"
        "v.EventChecker.__call__ = broken\n"
        "from lineage_cli.main import main\n"
        "raise SystemExit(main(['validate', 'archive']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", crash], capture_output=True, text=True, cwd=inputs, env=environment(inputs),
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    line = assert_one_line(done, EXIT_SOFTWARE)
    assert "internal error" in line
    assert "ZeroDivisionError: division by zero" in line
    [report] = inputs.glob("lineage-crash-*.txt")  # in TMPDIR, named in the line
    assert str(report) in line
    text = report.read_text()
    assert "Traceback (most recent call last)" in text
    assert "command: lineage validate archive" in text
    assert oct(report.stat().st_mode & 0o777) == oct(0o600)


def test_findings_keep_exit_1_and_the_installed_script_behaves_the_same(inputs: Path) -> None:
    script = Path(sys.executable).parent / "lineage"
    if not script.exists():
        pytest.skip("no lineage console script next to this interpreter")
    (inputs / "bad.jsonl").write_text(invalid_lines(3))
    done = subprocess.run(
        [str(script), "validate", "bad.jsonl"], capture_output=True, text=True, cwd=inputs,
        env=environment(inputs), timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (EXIT_FINDINGS, "")
    assert done.stdout.endswith("0 valid, 3 invalid\n")
    done = subprocess.run(
        [str(script), "validate", "missing.jsonl"], capture_output=True, text=True, cwd=inputs,
        env=environment(inputs), timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert_one_line(done, EXIT_USAGE)
