"""The command line's progress bar: in place on a terminal, whole lines elsewhere."""

from __future__ import annotations

import io

from bot.progress import ProgressBar


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def frozen_clock() -> float:
    return 0.0


def test_on_a_terminal_the_bar_is_redrawn_in_place_at_most_once_per_percent() -> None:
    stream = Terminal()
    bar = ProgressBar(stream, unit="calls", clock=frozen_clock)

    for done in range(2001):
        bar(done, 2000)
    bar.close()

    text = stream.getvalue()
    assert text.count("\r") == 101
    assert text.count("\n") == 1
    assert text.endswith("\r[#########################] 100% 2000/2000 calls    0.0 s\n")


def test_off_a_terminal_the_bar_writes_a_line_per_tenth() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, label="tenant t1", unit="records", clock=frozen_clock)

    for done in range(1001):
        bar(done, 1000)
    bar.close()

    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split("] ")[1].split("%")[0].strip() for line in lines] == [
        str(percent) for percent in range(0, 101, 10)
    ]
    assert lines[-1] == "tenant t1 [#########################] 100% 1000/1000 records    0.0 s"


def test_off_a_terminal_closing_writes_the_last_state_not_yet_written() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, unit="calls", clock=frozen_clock)

    bar(0, 1000)
    bar(15, 1000)
    bar.close()

    assert stream.getvalue().splitlines() == [
        "[.........................]   0% 0/1000 calls    0.0 s",
        "[.........................]   1% 15/1000 calls    0.0 s",
    ]


def test_a_new_label_starts_a_new_line_below_the_last_state_of_the_previous() -> None:
    for stream in (Terminal(), io.StringIO()):
        bar = ProgressBar(stream, unit="documents", clock=frozen_clock)

        bar.show(1, 2, label="calls", note="written 1")
        bar.show(2, 2, label="calls", note="written 2")
        bar.show(0, 0, label="agents", note="written 0")
        bar.close()

        # What a terminal ends up showing: each line's last redraw.
        shown = [line.split("\r")[-1].rstrip() for line in stream.getvalue().split("\n")]
        assert shown[-3:] == [
            "calls [#########################] 100% 2/2 documents    0.0 s  written 2",
            "agents [#########################] 100% 0/0 documents    0.0 s  written 0",
            "",
        ]


def test_a_shorter_line_blanks_out_the_longer_one_it_replaces() -> None:
    stream = Terminal()
    bar = ProgressBar(stream, clock=frozen_clock)

    bar.show(1, 2, note="written 1000, unchanged 0")
    bar.show(2, 2, note="done")

    last = stream.getvalue().split("\r")[-1]
    assert last.rstrip() == "[#########################] 100% 2/2    0.0 s  done"
    assert len(last) == len(
        "[############.............]  50% 1/2    0.0 s  written 1000, unchanged 0"
    )
