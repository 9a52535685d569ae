"""Cost of a lineage question over a large archive, against its targets, all measured in this one run.

    .venv/bin/python bench/lineage_bench.py            # the figures (first run: ~1 min to build the archive)
    .venv/bin/python bench/lineage_bench.py --quick    # a small archive (smoke test; figures are noisy)
    .venv/bin/python bench/lineage_bench.py --json     # the figures as JSON on stdout

The archive: 1,000,000 events (20,000 with --quick) in the plane's real layout (gzip JSON lines under
events/event_date=.../pipeline_id=.../, each line with its ingest object), written by lineage_lib's
rules: 100,000 runs of 20 pipelines over 30 days, each a RUN_START, three steps that each READ one
dataset and WRITE another, a STEP_START and STEP_COMPLETE around the first, and a RUN_COMPLETE: 10
events and 3 edges per run, so 300,000 edges between 100,000 datasets drawn at random (a random
graph of mean degree 3, whose giant component holds ~94% of the datasets). It is built once into
build/bench/ and reused (the CLI keeps no cache of its own: every question reads the archive).

1. COLD_CLI: `lineage downstream <dataset> --archive <dir> --format json` in a fresh process, from
   start to printed answer (median of 5; the dataset is in the giant component, ~93,000 nodes
   downstream). Target: < 5 s wall. Its peak resident memory is printed too.
2. Closure, in one process over the same edges (read once): LineageGraph.downstream against a plain
   dict-of-sets BFS over the dataset edges (the baseline) and networkx.descendants when installed
   (median of 7). Target: LineageGraph / PLAIN_DICT <= 2.
3. Pruning: the objects and bytes an Athena query over one day and one pipeline reads (partition
   projection lists only that folder) against the whole archive.

Targets are reported as met or not met; the script exits 0 either way (STYLE.md section 8).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.emit_bench import machine  # noqa: E402
from lineage_plane.layout import Archive, event_object_key  # noqa: E402

DAYS: Final = 30
PIPELINES: Final = 20
RUNS_PER_OBJECT: Final = 1_000  # 10,000 lines per object, as a large delivered batch
COLD_TARGET_S: Final = 5.0
CLOSURE_TARGET: Final = 2.0
SCALES: Final = {"full": (100_000, 100_000), "quick": (2_000, 2_000)}  # runs, datasets


def dataset(n: int) -> str:
    return f"s3://acme-lake/zone_{n % 7}/dataset_{n:06d}"


def build_archive(root: Path, runs: int, datasets: int, seed: int = 7) -> dict[str, Any]:
    """Write the synthetic archive under ``root`` (once: a marker file records what was built)."""
    marker = root / "built.json"
    wanted = {"runs": runs, "datasets": datasets, "seed": seed, "version": 1}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return wanted
    rng = random.Random(seed)
    prefix = (
        '{"schema_version":"1.0","event_id":"%s","event_time":"%sT%02d:%02d:%02d.%03dZ","event_type":"%s",'
    )
    producer = '"producer":{"name":"lineage_lib","version":"0.1.0"},'
    for start in range(0, runs, RUNS_PER_OBJECT):
        day = f"2026-10-{1 + (start // RUNS_PER_OBJECT) % DAYS:02d}"  # DAYS <= 31: all in October
        pipeline = f"pipeline-{(start // RUNS_PER_OBJECT) % PIPELINES:02d}"
        lines: list[str] = []
        for run in range(start, min(start + RUNS_PER_OBJECT, runs)):
            run_id = f"jr_{run:08d}"
            common = (
                f'{producer}"pipeline_id":"{pipeline}","run_id":"{run_id}","attempt":0,'
                f'"context":{{"platform":"glue","job_name":"{pipeline}","job_run_id":"{run_id}",'
                f'"region":"eu-west-1"}}'
            )
            ingest = (
                ',"ingest":{"ingested_at":"%sT23:59:00.000Z","log_group":"/aws-glue/jobs/output",'
                '"log_stream":"%s","log_event_id":"%d","log_timestamp":%d,"account":"123456789012",'
                '"region":"eu-west-1","batch_id":"b%d","validator_version":"0.1.0"}}'
            )
            events: list[tuple[str, str]] = [("RUN_START", "")]
            for step in (1, 2, 3):
                source, target = dataset(rng.randrange(datasets)), dataset(rng.randrange(datasets))
                if step == 1:
                    events.append(("STEP_START", f',"step":"s{step}"'))
                events.append(
                    ("READ", f',"step":"s{step}","source":{{"id":"{source}"}},"metrics":{{"records":1000}}')
                )
                events.append(
                    ("WRITE", f',"step":"s{step}","target":{{"id":"{target}"}},"metrics":{{"records":990}}')
                )
                if step == 1:
                    events.append(("STEP_COMPLETE", f',"step":"s{step}"'))
            events.append(("RUN_COMPLETE", ""))
            for i, (kind, body) in enumerate(events):
                second = (run * 10 + i) % 86_400
                head = prefix % (uuid.UUID(int=rng.getrandbits(128), version=4), day, second // 3600,
                                 second // 60 % 60, second % 60, i, kind)  # fmt: skip
                lines.append(head + common + body + ingest % (day, run_id, run * 10 + i, 0, start))
        key = event_object_key(day, pipeline, f"{start:013d}-bench")
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6))
    marker.write_text(json.dumps(wanted))
    return wanted


def in_giant_component(root: Path) -> str:
    """A dataset whose downstream closure is large (read from the first object's first WRITE)."""
    first = sorted((root / Archive.EVENTS_PREFIX).rglob("*" + Archive.OBJECT_SUFFIX))[0]
    for line in gzip.decompress(first.read_bytes()).decode().splitlines():
        event = json.loads(line)
        if event["event_type"] == "WRITE":
            return str(event["target"]["id"])
    raise RuntimeError("no WRITE in the archive")


def cold_cli(root: Path, name: str, repeats: int) -> dict[str, Any]:
    """`lineage downstream NAME --archive ROOT` (text, the default format) in fresh processes."""
    times, first_line = [], ""
    command = [sys.executable, "-m", "lineage_cli", "downstream", name, "--archive", str(root)]
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"lineage downstream failed ({done.returncode}): {done.stderr[-2000:]}")
        first_line = done.stdout.partition("\n")[0]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    found = re.search(r": ([0-9]+) datasets", first_line)
    return {
        "seconds": statistics.median(times),
        "runs": times,
        "peak_mib": peak_kib / 1024,
        "nodes": int(found.group(1)) if found else 0,
        "answer_head": first_line,
    }


def closure_costs(root: Path, name: str, repeats: int) -> dict[str, Any]:
    from lineage_cli import engine
    from lineage_cli.graph import LineageGraph

    source = engine.open_source(str(root), athena_workgroup=None)
    dates = source.dates()
    assert dates is not None
    columns, rows = source.run_rows("lineage_edges", [dates[0], dates[1], "9999-12-31T23:59:59Z"])
    graph = LineageGraph.from_table(columns, rows)
    kind, source_at, target_at = (columns.index(c) for c in ("edge_kind", "source_dataset", "target_dataset"))
    plain: dict[str, set[str]] = {}
    for row in rows:
        if row[kind] == "dataset":
            plain.setdefault(row[source_at], set()).add(row[target_at])
    node = graph.resolve(name)

    def plain_bfs() -> int:
        seen, queue = {name}, deque([name])
        while queue:
            for nxt in plain.get(queue.popleft(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return len(seen)

    cases: dict[str, Any] = {
        "LINEAGE_GRAPH": lambda: len(graph.downstream(node, None).nodes),
        "PLAIN_DICT": plain_bfs,
    }
    try:
        import networkx

        nx_graph = networkx.DiGraph(
            (source, target) for source, targets in plain.items() for target in targets
        )
        cases["NETWORKX"] = lambda: len(networkx.descendants(nx_graph, name)) + 1
    except ImportError:
        pass
    results: dict[str, list[float]] = {case: [] for case in cases}
    sizes: dict[str, int] = {}
    for _ in range(repeats):
        for case, function in cases.items():
            start = time.perf_counter()
            sizes[case] = function()
            results[case].append(time.perf_counter() - start)
    medians = {case: statistics.median(times) for case, times in results.items()}
    return {"edges": len(rows), "datasets": len(plain), "seconds": medians, "closure_nodes": sizes}


def pruning(root: Path) -> dict[str, Any]:
    objects = sorted((root / Archive.EVENTS_PREFIX).rglob("*" + Archive.OBJECT_SUFFIX))
    one = [p for p in objects if p.parent == objects[0].parent]
    return {
        "all": {"objects": len(objects), "bytes": sum(p.stat().st_size for p in objects)},
        "one_day_one_pipeline": {"objects": len(one), "bytes": sum(p.stat().st_size for p in one),
                                 "folder": str(objects[0].parent.relative_to(root))},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small archive: a smoke test")
    parser.add_argument("--json", action="store_true", help="the figures as JSON on stdout")
    parser.add_argument(
        "--out", type=Path, default=REPO / "build" / "bench", help="where the archive is built"
    )
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    runs, datasets = SCALES[scale]
    root = args.out / f"archive-{scale}"
    started = time.perf_counter()
    built = build_archive(root, runs, datasets)
    build_s = time.perf_counter() - started
    name = in_giant_component(root)
    cold = cold_cli(root, name, 1 if args.quick else 5)
    closure = closure_costs(root, name, 3 if args.quick else 7)
    seconds = closure["seconds"]
    ratios = {
        f"{case} / PLAIN_DICT": seconds[case] / seconds["PLAIN_DICT"]
        for case in seconds
        if case != "PLAIN_DICT"
    }
    closure_ratio = ratios["LINEAGE_GRAPH / PLAIN_DICT"]
    report = {
        "machine": machine({}),
        "archive": {**built, "events": runs * 10, "build_seconds": build_s, "root": str(root)},
        "question": f"lineage downstream {name}",
        "cold_cli": cold,
        "closure": closure,
        "ratios": ratios,
        "pruning": pruning(root),
        "targets": {
            "cold": target(cold["seconds"], f"< {COLD_TARGET_S} s", cold["seconds"] < COLD_TARGET_S),
            "closure": target(closure_ratio, f"<= {CLOSURE_TARGET}", closure_ratio <= CLOSURE_TARGET),
        },
    }  # fmt: skip
    print(json.dumps(report, indent=2) if args.json else text(report))
    return 0


def target(value: float, wanted: str, met: bool) -> dict[str, Any]:
    return {"value": value, "target": wanted, "met": met}


def text(report: dict[str, Any]) -> str:
    cold, closure, prune = report["cold_cli"], report["closure"], report["pruning"]
    lines = [
        f"lineage_bench: {report['archive']['events']:,} events, {closure['edges']:,} edges "
        f"({report['machine']['date']}, {report['machine']['commit']}, {report['machine']['python']}, "
        f"{report['machine']['cpu_count']} CPUs)",
        f"  {report['question']}: {cold['nodes']:,} nodes downstream",
        f"  COLD_CLI       {cold['seconds']:.2f} s wall (runs "
        f"{', '.join(f'{t:.2f}' for t in cold['runs'])}), peak {cold['peak_mib']:.0f} MiB",
    ]
    for case, seconds in closure["seconds"].items():
        lines.append(
            f"  {case:<14} {seconds * 1000:.1f} ms closure ({closure['closure_nodes'][case]:,} nodes)"
        )
    lines += [f"  {name}: {value:.2f}" for name, value in report["ratios"].items()]
    one, every = prune["one_day_one_pipeline"], prune["all"]
    lines.append(
        f"  Athena, one day and one pipeline ({one['folder']}): {one['objects']} objects, "
        f"{one['bytes'] / 2**20:.1f} MiB of {every['objects']} objects, {every['bytes'] / 2**20:.1f} MiB"
    )
    for name, goal in report["targets"].items():
        verdict = "met" if goal["met"] else "NOT met"
        lines.append(f"  target {name}: {goal['value']:.2f} {goal['target']}: {verdict}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
