"""lineage_cli.progress: one redrawn line on a terminal, throttled and erased at the end; nothing at
all when the stream is not a terminal (a pipe, a file, a CI log)."""

from __future__ import annotations

import io

import pytest

from lineage_cli.progress import MAX_UPDATES_PER_SECOND, Progress, is_terminal, progress_line


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _capable_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")


def on_terminal(clock: Clock, width: int = 120) -> tuple[FakeTerminal, Progress]:
    stream = FakeTerminal()
    return stream, Progress(stream, clock=clock, width=lambda: width)


def visible(text: str) -> str:
    """What a terminal shows after ``text``: each \\r returns to the start of the line and overwrites."""
    line: list[str] = []
    column = 0
    for char in text:
        if char == "\r":
            column = 0
            continue
        if column < len(line):
            line[column] = char
        else:
            line.append(char)
        column += 1
    return "".join(line).rstrip()


def test_a_terminal_gets_one_redrawn_line_erased_at_the_end() -> None:
    clock = Clock()
    stream, progress = on_terminal(clock)
    with progress:
        progress(1, 4, "downloading archive")
        assert visible(stream.getvalue()) == "downloading archive [######..................]  25% (1/4)"
        clock.advance(0.5)
        progress(3, 4, "downloading archive")
        assert visible(stream.getvalue()) == "downloading archive [##################......]  75% (3/4)"
        assert "\n" not in stream.getvalue()
    assert visible(stream.getvalue()) == ""  # erased: the next output starts on a clean line
    assert stream.getvalue().endswith("\r")


def test_updates_are_throttled_to_ten_a_second() -> None:
    clock = Clock()
    stream, progress = on_terminal(clock)
    for done in range(1, 1001):  # a thousand calls within 0.999 s
        progress(done, 1000, "scan")
        clock.advance(0.001)
    draws = stream.getvalue().count("\r")
    assert draws <= MAX_UPDATES_PER_SECOND
    assert draws >= MAX_UPDATES_PER_SECOND - 1
    progress.close()


def test_a_shorter_line_leaves_no_tail_of_the_longer_one() -> None:
    clock = Clock()
    stream, progress = on_terminal(clock)
    progress(5, 0, "a rather long label for the first stage")
    clock.advance(1)
    progress(6, 0, "short")
    assert visible(stream.getvalue()) == "short 6"


def test_the_line_never_wraps_past_the_terminal_width() -> None:
    stream, progress = on_terminal(Clock(), width=30)
    progress(1, 2, "x" * 100)
    assert len(visible(stream.getvalue())) == 29


@pytest.mark.parametrize(
    "stream",
    [io.StringIO(), io.BytesIO()],
    ids=["pipe-or-file", "no-text-stream"],
)
def test_nothing_is_written_when_the_stream_is_not_a_terminal(stream: io.IOBase) -> None:
    progress = Progress.for_stream(stream)  # type: ignore[arg-type]
    with progress:
        progress(1, 2, "downloading archive")
    assert not progress.enabled
    assert stream.getvalue() in ("", b"")  # type: ignore[attr-defined]


def test_a_dumb_terminal_gets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    stream = FakeTerminal()
    with Progress.for_stream(stream) as progress:
        progress(1, 2, "scan")
    assert stream.getvalue() == ""


def test_a_closed_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    stream.close()  # a real closed stream's isatty() raises ValueError
    assert not is_terminal(stream)


def test_for_stream_enables_on_a_terminal_and_close_is_idempotent() -> None:
    stream = FakeTerminal()
    progress = Progress.for_stream(stream)
    assert progress.enabled
    progress(2, 2, "done")
    progress.close()
    after_first = stream.getvalue()
    progress.close()
    assert stream.getvalue() == after_first


@pytest.mark.parametrize(
    ("done", "total", "expected"),
    [
        (0, 10, "q [........................]   0% (0/10)"),
        (10, 10, "q [########################] 100% (10/10)"),
        (15, 10, "q [########################] 100% (15/10)"),
        (1536.5, 4096, "q [#########...............]  38% (1,536.5/4,096)"),
        (12345, 0, "q 12,345"),
    ],
)
def test_progress_line(done: float, total: float, expected: str) -> None:
    assert progress_line(done, total, "q") == expected
