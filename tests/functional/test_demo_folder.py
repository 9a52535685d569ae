"""``lineage demo --archive-out DIR`` (issue 11, point 11): the folder the demo leaves answers every README
command that names ``--archive`` (read from README.md, so the README cannot drift); a rerun replaces
the demo's own folder and refuses any other; a demo that fails leaves the previous folder whole."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_cli.exits import EXIT_USAGE
from lineage_cli.main import main
from lineage_local import demo, demo_plane
from lineage_plane.layout import Archive
from tests.conftest import REPO
from tests.functional.test_cli_errors import TIMEOUT, environment

FOLDER = "lineage-demo"  # the default, in the working directory


def readme_archive_commands() -> list[tuple[list[str], int]]:
    """Each ``lineage ... --archive ...`` line of README.md's code blocks, with the exit code its
    comment announces (``# exit 1: ...``; none: 0)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)
    commands = []
    for line in (line.strip() for block in blocks for line in block.splitlines()):
        if line.startswith("lineage ") and "--archive" in line:
            announced = re.search(r"#\s*exit (\d+)", line)
            commands.append((shlex.split(line, comments=True), int(announced.group(1)) if announced else 0))
    return commands


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make demo` leaves: `lineage demo`, a real process, in a fresh working directory."""
    cwd = tmp_path_factory.mktemp("demo-cwd")
    done = subprocess.run(
        [sys.executable, "-m", "lineage_cli", "demo"], capture_output=True, text=True, cwd=cwd,
        env=environment(cwd), timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Kept in ./{FOLDER}: " in done.stdout
    assert f"lineage runs --archive ./{FOLDER} --incomplete" in done.stdout
    return cwd / FOLDER


def test_the_folder_has_the_archive_s_layout_and_the_run_state(demo_folder: Path) -> None:
    events = sorted((demo_folder / "events").rglob(f"*{Archive.OBJECT_SUFFIX}"))
    quarantine = sorted((demo_folder / "quarantine").rglob(f"*{Archive.OBJECT_SUFFIX}"))
    assert events
    assert quarantine
    for path in events:
        relative = path.relative_to(demo_folder).as_posix()
        assert re.fullmatch(
            r"events/event_date=\d{4}-\d{2}-\d{2}/pipeline_id=[^/]+/[^/]+\.json\.gz", relative
        )
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            assert "ingest" in json.loads(line)  # the objects as the validator wrote them
    items = [json.loads(line)["Item"] for line in (demo_folder / "run-state.json").read_text().splitlines()]
    kinds = {item["kind"]["S"] for item in items}
    assert {"attempt", "step"} <= kinds
    pipelines = {item["pipeline_id"]["S"] for item in items if item["kind"]["S"] == "attempt"}
    assert pipelines == {"orders-daily", "orders-export"}


@pytest.mark.slow
def test_every_readme_command_naming_archive_answers_from_the_demo_s_folder(demo_folder: Path) -> None:
    commands = readme_archive_commands()
    asked = {words[1] for words, _ in commands}
    assert {"upstream", "downstream", "impact", "runs", "replay"} <= asked, asked
    for words, expected in commands:
        at = words.index("--archive") + 1
        argv = [*words[1:at], str(demo_folder), *words[at + 1 :]]
        done = subprocess.run(
            [sys.executable, "-m", "lineage_cli", *argv], capture_output=True, text=True,
            cwd=demo_folder.parent, env=environment(demo_folder.parent), timeout=TIMEOUT, check=False,
        )  # fmt: skip
        shown = " ".join(words)
        assert (done.returncode, done.stderr) == (expected, ""), f"{shown}\n{done.stderr}"
        assert done.stdout.strip(), f"{shown}: no answer"
        assert not re.search(r"^(nothing|no) ", done.stdout), f"{shown}: an empty answer:\n{done.stdout}"


def test_a_rerun_replaces_the_demo_s_own_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "kept"
    assert main(["demo", "--archive-out", str(folder)]) == 0
    first = (folder / "run-state.json").read_text()
    assert main(["demo", "--archive-out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"Kept in {folder} (the previous demo folder replaced)" in out
    second = (folder / "run-state.json").read_text()
    run_ids = set(re.findall(r"jr_demo[0-9a-f]{12}", second))
    assert run_ids
    assert run_ids.isdisjoint(re.findall(r"jr_demo[0-9a-f]{12}", first))  # nothing of the first left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]  # no staging folder left beside it


@pytest.mark.parametrize("kind", ["a folder of other files", "a file"])
def test_a_path_the_demo_did_not_write_is_refused_before_anything_runs(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "mine"
    if kind == "a file":
        target.write_text("my notes")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("my notes")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["demo", "--archive-out", str(target)]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""  # refused before the jobs ran
    assert len(err.splitlines()) == 1
    assert f"--archive-out {target}" in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_demo_that_fails_leaves_the_previous_folder_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "kept"
    assert main(["demo", "--archive-out", str(folder)]) == 0
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def fails_halfway(runs: object, out: object, keep: Path | None = None) -> None:
        assert keep is not None
        (keep / "events").mkdir()
        raise RuntimeError("the plane broke halfway")

    monkeypatch.setattr(demo_plane, "run", fails_halfway)
    with pytest.raises(RuntimeError, match="the plane broke halfway"):
        demo.run(demo_args(folder))
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def demo_args(folder: Path) -> object:
    from lineage_cli.main import build_parser

    return build_parser().parse_args(["demo", "--archive-out", str(folder)])


def test_the_default_folder_is_ignored_by_git() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "-q", f"{FOLDER}/events/x.json.gz"], cwd=REPO, env={**os.environ},
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"./{FOLDER} is not in .gitignore: make demo would leave the clone dirty"


def test_unusable_output_paths_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    under_a_file = tmp_path / "a-file" / "kept"
    assert main(["demo", "--archive-out", str(under_a_file)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == f"lineage demo: --archive-out {under_a_file}: {under_a_file.parent} is not a folder\n"
    code = main(["demo", "--archive-out", str(tmp_path / "kept"), "--events-out", str(tmp_path)])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == f"lineage demo: --events-out {tmp_path}: cannot be written (Is a directory)\n"
    assert not (tmp_path / "kept").exists()
