"""Tables on stdout: whole in a pipe or a file, fitted to the window in a terminal."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from proofmind.cli.tables import abbreviate, print_table

HASH = "0x" + "ab" * 32


def _table(console: Console) -> Table:
    table = Table("key", "kind", "name", "content hash", "status", "record id", "parents")
    cut = abbreviate(console, HASH)
    table.add_row("1", "dataset", "d", cut, "anchored", cut, "")
    return table


def test_a_pipe_gets_the_table_at_its_own_width() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80)
    print_table(console, _table(console))
    lines = out.getvalue().splitlines()
    assert out.getvalue().count(HASH) == 2  # neither hash cut, though the table is wider than 80
    assert max(map(len, lines)) > 80 and len({len(line) for line in lines}) == 1


def test_a_narrow_table_in_a_pipe_is_printed_as_it_is() -> None:
    out, plain = io.StringIO(), io.StringIO()
    table = Table("a", "b")
    table.add_row("1", "2")
    print_table(Console(file=out, width=80), table)
    Console(file=plain, width=80).print(table)
    assert out.getvalue() == plain.getvalue()


def test_a_terminal_gets_the_table_fitted_and_hashes_abbreviated() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    print_table(console, _table(console))
    assert all(len(line) <= 100 for line in out.getvalue().splitlines())
    assert HASH[:18] + "…" in out.getvalue()
    assert abbreviate(console, "0x12") == "0x12"  # short values are never cut
