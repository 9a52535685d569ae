"""``lineage validate`` on a large file of invalid events, against the way it used to validate, in one run.

    .venv/bin/python bench/validate_bench.py            # 100,000 invalid lines (~50 MB), about 2 min
    .venv/bin/python bench/validate_bench.py --quick    # 5,000 lines: a smoke test, noisy figures
    .venv/bin/python bench/validate_bench.py --json     # the figures as JSON on stdout

The file: the schema's valid example events (schemas/lineage-event/*/examples/valid), each made
invalid in one of four ways a broken producer does (a time without its zone, a dataset id with no
scheme, a missing required field, a wrong type), padded with a tag to ~500 bytes a line, in turn until
N lines: ~50 MB for 100,000. Every line is a schema violation, the costliest kind to explain.

CASES, each a fresh process running `lineage validate FILE` (lineage_cli.main.main, or the baseline's
equivalent), its standard output to /dev/null, timed wall-clock from start to exit, median of 3 (1
with --quick):

LINEAGE    the command as it is: streamed lines, the compiled validator for every line, jsonschema's
           wording for the first 100 violations only (lineage_cli/validate.py)
BASELINE   the command before issue 11: the whole file read into a list of lines, then for each line
           the compiled validator and, for every invalid one, jsonschema's best match (a fresh
           Draft202012Validator per line, as contract.explain does), all reported at the end

Peak memory is each process's own high-water mark of resident memory (VmHWM, read by the process as it
ends: ru_maxrss would carry the forking benchmark's, which holds the lines it wrote). The target
(issue 11): 100,000 invalid lines in a few seconds. The script exits 0 whether it is met or not.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LINE_BYTES: Final = 500
TARGET_SECONDS: Final = 5.0  # "a few seconds"


def invalid_events(count: int) -> list[str]:
    """``count`` invalid event lines of about LINE_BYTES each (see the module's docstring)."""
    examples = [
        json.loads(path.read_text())
        for path in sorted((REPO / "schemas" / "lineage-event").glob("*/examples/valid/*.json"))
    ]

    def breakers(event: dict[str, Any], index: int) -> dict[str, Any]:
        broken = copy.deepcopy(event)
        kind = index % 4
        if kind == 0:
            broken["event_time"] = "2026-11-21 10:00:00"  # no T, no zone
        elif kind == 1:
            broken["pipeline_id"] = ""
        elif kind == 2:
            del broken["run_id"]
        else:
            broken["attempt"] = str(broken.get("attempt", 0))
        return broken

    lines = []
    for index in range(count):
        event = breakers(examples[index % len(examples)], index)
        line = json.dumps(event, separators=(",", ":"))
        if len(line) < LINE_BYTES:
            event.setdefault("tags", {})["padding"] = "x" * (LINE_BYTES - len(line) - 16)
            line = json.dumps(event, separators=(",", ":"))
        lines.append(line)
    return lines


def baseline(path: str) -> int:
    """The command before issue 11 (lineage_cli/validate.py at 73328ff), as it ran then."""
    from lineage_lib import contract
    from lineage_lib.errors import LineageValidationError

    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    problems = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as err:
            problems.append((number, f"not JSON: {err}"))
            continue
        if not isinstance(event, dict):
            problems.append((number, "not a JSON object"))
            continue
        try:
            contract.validate(event)
        except LineageValidationError:
            explained = contract.explain(event)
            where = f"{explained.path}: " if explained and explained.path else ""
            problems.append((number, f"{where}{explained.reason if explained else ''}"))
    for number, reason in problems:
        print(f"{path}:{number}: {reason}")
    print(f"{len(lines) - len(problems)} valid, {len(problems)} invalid")
    sys.stdout.flush()
    print(peak_kib(), file=sys.stderr)
    return 1 if problems else 0


# The command as users run it (lineage_cli.main.main), then the process's own peak on standard error.
LINEAGE_PROCESS: Final = """import sys
from lineage_cli.main import main
code = main(["validate", sys.argv[1]])
sys.stdout.flush()
print(peak_kib(), file=sys.stderr)
raise SystemExit(code)
"""


def peak_kib() -> int:
    """This process's peak resident memory since it started (Linux: VmHWM; elsewhere ru_maxrss)."""
    try:
        with open("/proc/self/status") as status:
            return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def timed(command: list[str]) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KiB) of one fresh process, its output discarded."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment, cwd=REPO,
        check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return seconds, done.returncode, int(done.stderr.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5,000 lines, one round")
    parser.add_argument("--json", action="store_true", help="the figures as JSON on stdout")
    parser.add_argument("--lines", type=int, help="how many invalid lines (default 100,000)")
    parser.add_argument("--run-baseline", metavar="FILE", help=argparse.SUPPRESS)  # the baseline's process
    args = parser.parse_args()
    if args.run_baseline:
        return baseline(args.run_baseline)
    count = args.lines or (5_000 if args.quick else 100_000)
    rounds = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        path = Path(tmp) / "invalid.jsonl"
        path.write_text("\n".join(invalid_events(count)) + "\n", encoding="utf-8")
        commands = {
            "LINEAGE": [sys.executable, "-c", f"{inspect.getsource(peak_kib)}\n{LINEAGE_PROCESS}", str(path)],
            "BASELINE": [sys.executable, str(Path(__file__).resolve()), "--run-baseline", str(path)],
        }
        runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
        for _ in range(rounds):  # each round runs every case in turn: load changes hit both alike
            for name, command in commands.items():
                runs[name].append(timed(command))
        size = path.stat().st_size
    cases = {
        name: {
            "seconds": statistics.median(seconds for seconds, _, _ in results),
            "runs": [round(seconds, 3) for seconds, _, _ in results],
            "exit_codes": sorted({code for _, code, _ in results}),
            "peak_rss_mib": round(max(rss for _, _, rss in results) / 1024, 1),
        }
        for name, results in runs.items()
    }
    ratio = cases["BASELINE"]["seconds"] / cases["LINEAGE"]["seconds"]
    report = {
        "lines": count,
        "megabytes": round(size / 1e6, 1),
        "cases": cases,
        "ratios": {"BASELINE / LINEAGE seconds": round(ratio, 1)},
        "targets": {
            "seconds": {"target": TARGET_SECONDS, "met": cases["LINEAGE"]["seconds"] <= TARGET_SECONDS}
        },
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"CPython {platform.python_version()}",
        "date": date.today().isoformat(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"lineage validate on {count:,} invalid lines ({report['megabytes']} MB), median of {rounds}:")
    for name, case in cases.items():
        print(
            f"  {name:<9} {case['seconds']:7.2f} s  ({count / case['seconds']:,.0f} lines/s, "
            f"peak RSS {case['peak_rss_mib']} MiB, exit {case['exit_codes']}, runs {case['runs']})"
        )
    met = "met" if report["targets"]["seconds"]["met"] else "NOT met"
    print(f"  BASELINE / LINEAGE: {ratio:.1f} x; target <= {TARGET_SECONDS:g} s: {met}")
    print(f"  {report['machine']}, {report['date']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
