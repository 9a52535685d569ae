"""``lineage validate`` on what users feed it (issue 11, points 9 and 10): archive objects and folders,
OpenLineage events, thousands of invalid lines (precise reasons first, the compiled validator's after),
a progress line on a terminal only, and a large file streamed rather than read whole."""

from __future__ import annotations

import datetime
import fcntl
import gzip
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from lineage_cli.exits import EXIT_FINDINGS, EXIT_OK
from lineage_cli.main import main
from lineage_cli.validate import EXPLAINED_PRECISELY
from lineage_lib import contract
from lineage_lib.emitter import Emitter
from lineage_lib.sinks.memory import MemorySink
from tests.conftest import REPO, load_examples
from tests.functional.test_cli_errors import TIMEOUT, archive_object, environment

OPENLINEAGE_RUN_EVENT = {
    "eventType": "COMPLETE",
    "eventTime": "2026-11-21T10:00:00.000Z",
    "run": {"runId": "0195d1b2-6f0e-7c1a-9d7e-1a2b3c4d5e6f"},
    "job": {"namespace": "glue", "name": "orders_daily"},
    "inputs": [],
    "outputs": [],
    "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.26.0/integration/spark",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
}


def validate(capsys: pytest.CaptureFixture[str], *paths: Path | str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["validate", *map(str, paths)])
    out, err = capsys.readouterr()
    assert err == ""  # no progress line: the captured stream is no terminal
    return code, out.splitlines()


def valid_event() -> dict[str, object]:
    return dict(load_examples("valid")[0][1])


def test_an_openlineage_event_is_named_as_one_not_told_to_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "openlineage.jsonl"
    events.write_text(json.dumps(OPENLINEAGE_RUN_EVENT) + "\n")
    code, lines = validate(capsys, events)
    assert code == EXIT_FINDINGS
    assert lines[0].startswith(
        f"{events}:1: an OpenLineage RunEvent (COMPLETE, schemaURL https://openlineage.io"
    )
    assert "not a lineage-plane event" in lines[0]
    assert "upgrade" not in lines[0]


def test_the_first_violations_get_jsonschema_s_words_and_the_rest_the_compiled_validator_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = valid_event()
    del event["run_id"]
    explained = contract.explain(event)
    assert explained is not None
    try:
        contract.validate(event)
    except contract.LineageValidationError as compiled:
        terse = compiled
    assert explained.reason != terse.reason  # the two wordings differ for this violation
    events = tmp_path / "missing-run-id.jsonl"
    events.write_text((json.dumps(event) + "\n") * (EXPLAINED_PRECISELY + 5))
    code, lines = validate(capsys, events)
    assert code == EXIT_FINDINGS
    reasons = [line.split(": ", 1)[1] for line in lines[:-1]]
    assert reasons[:EXPLAINED_PRECISELY] == [f"{explained.reason} [required]"] * EXPLAINED_PRECISELY
    assert reasons[EXPLAINED_PRECISELY:] == [f"{terse.reason} [required]"] * 5
    assert lines[-1].startswith(f"0 valid, {EXPLAINED_PRECISELY + 5} invalid; after the first")


def test_a_folder_of_archive_objects_skips_quarantine_objects_and_counts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive_object(tmp_path / "events" / "event_date=2026-11-21" / "pipeline_id=a" / "b1.json.gz")
    archive_object(tmp_path / "events" / "event_date=2026-11-22" / "pipeline_id=b" / "b2.json.gz")
    refused = {"reason": {"code": "invalid_json", "detail": "truncated"}, "message": "{", "ingest": {}}
    quarantine = tmp_path / "quarantine" / "log_date=2026-11-21" / "b3.json.gz"
    quarantine.parent.mkdir(parents=True)
    quarantine.write_bytes(gzip.compress(json.dumps(refused).encode() + b"\n"))
    count = 2 * len(load_examples("valid"))
    code, lines = validate(capsys, tmp_path)
    assert code == EXIT_OK
    assert lines == [
        f"{count} valid, 0 invalid in 2 files; 1 quarantine objects skipped (lineage replay --dry-run "
        "checks them)"
    ]
    code, lines = validate(capsys, quarantine)  # named on its own, it is read, and its lines explained
    assert code == EXIT_FINDINGS
    assert (
        lines[0] == f"{quarantine}:1: a quarantine record (invalid_json), not an event: lineage replay "
        "--dry-run validates quarantined lines again"
    )


def test_the_ingest_object_is_set_aside_only_where_the_plane_appended_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archived = archive_object(tmp_path / "b1.json.gz")
    plain = tmp_path / "unzipped.jsonl"
    plain.write_bytes(gzip.decompress(archived.read_bytes()))
    assert validate(capsys, archived)[0] == EXIT_OK
    code, lines = validate(capsys, plain)
    assert code == EXIT_FINDINGS
    assert lines[0].startswith(f"{plain}:1: it holds the ingest object the plane appends to archived lines")


def test_a_line_that_is_not_utf8_is_reported_and_the_others_are_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.dumps(valid_event()).encode()
    events = tmp_path / "mixed.jsonl"
    events.write_bytes(b"\n".join([good] * 300 + [b'{"x": "caf\xe9"}'] + [good]) + b"\n")  # past the sniff
    code, lines = validate(capsys, events)
    assert code == EXIT_FINDINGS
    assert lines == [f"{events}:301: not UTF-8 text (byte 11 of the line)", "301 valid, 1 invalid"]


def progress_of(tmp_path: Path, events: Path, *, terminal: bool) -> tuple[int, bytes, str]:
    """(exit code, what reached standard error, standard output) of a validate process whose standard
    error is a terminal (a pseudo-terminal) or a pipe."""
    out = tmp_path / "report.txt"
    if not terminal:
        with out.open("w") as report:
            done = subprocess.run(
                [sys.executable, "-m", "lineage_cli", "validate", str(events)], stdout=report,
                stderr=subprocess.PIPE, env=environment(tmp_path, TERM="xterm"), timeout=TIMEOUT, check=False,
            )  # fmt: skip
        return done.returncode, done.stderr, out.read_text()
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))  # 24 rows, 200 columns
    with out.open("w") as report:
        process = subprocess.Popen(
            [sys.executable, "-m", "lineage_cli", "validate", str(events)], stdout=report, stderr=child,
            env=environment(tmp_path, TERM="xterm"),
        )  # fmt: skip
    os.close(child)
    drawn = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the terminal's other side is closed: the process ended
            break
        if not chunk:
            break
        drawn += chunk
    os.close(parent)
    return process.wait(timeout=TIMEOUT), drawn, out.read_text()


@pytest.mark.slow
def test_a_progress_line_is_drawn_on_a_terminal_only_and_erased_before_the_end(tmp_path: Path) -> None:
    events = tmp_path / "invalid.jsonl"
    events.write_text('{"schema_version": "1.0"}\n' * 20_000)
    code, drawn, report = progress_of(tmp_path, events, terminal=True)
    assert code == EXIT_FINDINGS
    assert f"validating {events} [".encode() in drawn
    assert drawn.count(b"\r") > 2  # redrawn as the file is read
    assert drawn.endswith(b"\r")  # and erased at the end: the cursor is back at the start of the line
    assert drawn.rstrip(b"\r ").rsplit(b"\r", 1)[-1].startswith(b"validating")
    assert report.endswith("0 valid, 20000 invalid; after the first 100 schema violations, reasons are the "
                           "compiled validator's (exact path and rule, terser words)\n")  # fmt: skip
    code, piped, report_piped = progress_of(tmp_path, events, terminal=False)
    assert (code, piped, report_piped) == (EXIT_FINDINGS, b"", report)


@pytest.mark.slow
def test_a_large_file_is_streamed_not_read_whole(tmp_path: Path) -> None:
    """80 MB of events: the process's peak memory stays far below the file's size."""
    line = json.dumps({**valid_event(), "tags": {"padding": "x" * 900}}) + "\n"
    events = tmp_path / "large.jsonl"
    with events.open("w") as handle:
        for _ in range(80_000_000 // len(line)):
            handle.write(line)
    size_mib = events.stat().st_size / 2**20
    # the process's own high-water mark (VmHWM: its address space's since exec; ru_maxrss would carry
    # the forking pytest process's)
    measured = (
        "import sys\nfrom lineage_cli.main import main\ncode = main(['validate', sys.argv[1]])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(hwm, file=sys.stderr)\nraise SystemExit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", measured, str(events)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=environment(tmp_path), timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.stderr
    peak_mib = int(done.stderr.split()[-1]) / 1024
    assert peak_mib < size_mib / 2, f"peak {peak_mib:.0f} MiB for a {size_mib:.0f} MiB file"


@pytest.mark.slow
def test_the_validate_benchmark_runs_and_reports_both_cases() -> None:
    done = subprocess.run(
        [sys.executable, "bench/validate_bench.py", "--quick", "--json"], cwd=REPO, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["cases"]) == {"LINEAGE", "BASELINE"}
    for case in report["cases"].values():
        assert case["exit_codes"] == [EXIT_FINDINGS]  # every line of the file is invalid, on both sides
        assert case["seconds"] > 0
        assert case["peak_rss_mib"] > 0
    assert report["ratios"]["BASELINE / LINEAGE seconds"] > 0
    assert isinstance(report["targets"]["seconds"]["met"], bool)


def test_a_lenient_producer_s_refusal_line_gets_the_reason_the_plane_quarantines_it_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What lineage_lib in lenient mode prints in place of an event holding a datetime: the plane
    # quarantines it as producer_refused with the producer's detail, and validate says the same.
    sink = MemorySink()
    event = {**valid_event(), "tags": {"when": datetime.date(2026, 11, 21)}}
    Emitter(sink, mode="lenient").emit(event)
    (line,) = sink.lines
    refused = tmp_path / "lenient.jsonl"
    refused.write_text(line + "\n")
    code, lines = validate(capsys, refused)
    assert code == EXIT_FINDINGS
    assert lines[0].startswith(f"{refused}:1: tags.when: lineage_lib (lenient mode) could not emit this")
    assert lines[0].endswith("[not_json]")
