"""Progress of long work: a rich progress bar on a terminal, a line every so often otherwise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

import typer

LINE_EVERY = 10_000


@contextmanager
def progress(description: str, total: int | None, noun: str) -> Iterator[Callable[[int], None]]:
    """Yields `update(done)`; `done` is the running count."""
    if not sys.stderr.isatty():
        last = [0]

        def report(done: int) -> None:
            if done // LINE_EVERY > last[0] // LINE_EVERY:
                typer.echo(f"... {done} {noun} {description}", err=True)
            last[0] = done

        yield report
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(f"{{task.description}} ({noun})"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


def count_lines(path: str) -> int | None:
    """Lines in a regular file (a fast byte count), for a progress bar's total; None for stdin."""
    if path == "-":
        return None
    lines = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines
