"""Tables on stdout. In a terminal a table fits the window; piped to a file or another program
it is printed at its own width, so hashes, addresses and amounts reach ``grep``, ``cut`` or a
log whole. Rich assumes 80 columns when there is no terminal and would cut them to "0x3f9a…"."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from proofmind.cli.consoles import TextConsole


def print_table(console: Console, table: Table) -> None:
    if console.is_terminal:
        console.print(table)
        return
    unbounded = console.options.update_width(100_000)
    natural = Measurement.get(console, unbounded, table).maximum
    if natural <= console.width:
        console.print(table)
        return
    # print(width=) only narrows: a console of the table's width writes to the same file
    TextConsole(file=console.file, width=natural, no_color=console.no_color).print(table)


def abbreviate(console: Console, value: str, keep: int = 18) -> str:
    """A hash cut to its first ``keep`` characters in a terminal, where a table must fit; whole
    in a pipe or a file, where someone will copy or match it."""
    if not console.is_terminal or len(value) <= keep:
        return value
    return value[:keep] + "…"
