"""The command line's progress bar: on stderr, readable in a terminal and in a log file."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

_WIDTH = 25
# Off a terminal, a line per tenth of the work: enough to follow, few enough to read.
_LINE_STEP_PERCENT = 10


class ProgressBar:
    """A text bar for long commands (``simulate``, ``stats rebuild``, ``store copy``).

    On a terminal it is one line redrawn in place whenever what it shows changes (its
    label, its note, or its percentage: at most a hundred redraws per label). Elsewhere (a
    CI log, output piped to a file) carriage returns would pile up in one endless line, so
    it writes whole lines instead: a label's first, one per tenth of the work, its last.
    Call it as ``bar(done, total)``, or :meth:`show` to change the label or note; then
    :meth:`close`.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        label: str = "",
        unit: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Draw on ``stream``; ``unit`` names what is counted (``calls``, ``records``)."""
        self._stream = stream
        self._label = label
        self._unit = unit
        self._clock = clock
        self._started = clock()
        self._in_place = _is_terminal(stream)
        # What the stream shows: (label, percent, note), the line's width, and the newest
        # line not written yet (off a terminal) for close() to finish with.
        self._shown: tuple[str, int, str] | None = None
        self._drawn_width = 0
        self._pending: str | None = None

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` under the current label."""
        self.show(done, total)

    def show(self, done: int, total: int, *, label: str | None = None, note: str = "") -> None:
        """Show ``done`` of ``total``, under ``label`` if given, with ``note`` after it."""
        new_label = label is not None and label != self._label
        if label is not None:
            self._label = label
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        state = (self._label, percent, note)
        if state == self._shown:
            return
        line = self._render(done, total, percent, note)
        if self._in_place:
            self._redraw(line, new_label=new_label)
        else:
            self._add_line(line, state)
        self._shown = state

    def close(self) -> None:
        """End the bar's line (off a terminal: write the last state not written yet)."""
        if self._in_place and self._shown is not None:
            self._write("\n")
        elif self._pending is not None:
            self._write(self._pending + "\n")
        self._shown = None
        self._pending = None
        self._drawn_width = 0

    def _render(self, done: int, total: int, percent: int, note: str) -> str:
        filled = percent * _WIDTH // 100
        counted = f"{done}/{max(total, 0)}" + (f" {self._unit}" if self._unit else "")
        elapsed = self._clock() - self._started
        line = (
            f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {percent:3d}% {counted}  {elapsed:5.1f} s"
        )
        if self._label:
            line = f"{self._label} {line}"
        return f"{line}  {note}" if note else line

    def _redraw(self, line: str, *, new_label: bool) -> None:
        if new_label and self._shown is not None:
            # The finished label keeps its line; the new one starts below it.
            self._write("\n")
            self._drawn_width = 0
        # Blank out what a longer previous line left behind.
        self._write("\r" + line.ljust(self._drawn_width))
        self._drawn_width = len(line)

    def _add_line(self, line: str, state: tuple[str, int, str]) -> None:
        shown = self._shown
        if shown is not None and state[0] == shown[0]:
            if state[1] // _LINE_STEP_PERCENT == shown[1] // _LINE_STEP_PERCENT:
                self._pending = line
                return
        elif self._pending is not None:
            # The finished label's last state, before the new label's first.
            self._write(self._pending + "\n")
        self._write(line + "\n")
        self._pending = None

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        # A closed or bare stream: write plain lines.
        return False
