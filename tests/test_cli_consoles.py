"""The CLI's consoles print user text as written: brackets in a path, a dataset name or a
proposal title are kept (Rich took ``[v2]`` for a style tag and dropped it), while the code's
own markup still styles."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.markup import escape, render
from rich.table import Table

import proofmind
from proofmind.cli.consoles import TextConsole, _is_style, literal_brackets
from proofmind.cli.main import main
from proofmind.text import count_of
from tests.gov.test_gov import proposals_csv


def printed(*texts: object, markup: bool | None = None) -> str:
    out = io.StringIO()
    console = TextConsole(file=out, width=500, highlight=False, color_system="truecolor")
    console.print(*texts, markup=markup)
    return out.getvalue()


def test_brackets_that_are_not_styles_are_printed() -> None:
    line = "rows → /data/br[v2]/gov[x]/ from p[draft].csv, [/x] and \\[kept], t[i][b]"
    assert (
        printed(line) == "rows → /data/br[v2]/gov[x]/ from p[draft].csv, [/x] and [kept], t[i][b]\n"
    )
    assert printed(f"[green]ok[/green] {escape('a[v2]')}").endswith("ok\x1b[0m a[v2]\n")
    assert "\x1b[1m" in printed("[bold]x[/bold] [dim]y[/]")  # the code's markup styles
    assert printed("a [/] b") == "a [/] b\n"  # closes nothing: printed as written
    assert printed("[v2]", markup=False) == "[v2]\n"


def test_a_style_name_in_user_text_without_its_pair_prints_as_written() -> None:
    """The code closes every style it opens, so a lone [red] or [/default] is the user's."""
    for path in ("runs/[red]/x.csv", "report[default].md", "a [/red] b", "[bold red]draft"):
        assert printed(f"[green]wrote[/green] {path}").endswith(f"wrote\x1b[0m {path}\n")
    assert (
        printed("[yellow]note:[/yellow] [dim]x[/] y") == "\x1b[33mnote:\x1b[0m \x1b[2mx\x1b[0m y\n"
    )
    # Rich's pairing: [/name] closes the last [name] still open, [/] the last one
    assert printed("[red]a [bold]b[/red] c") == "\x1b[31ma [bold]b\x1b[0m c\n"
    assert (
        printed("[red]a [bold]b[/] c[/]")
        == "\x1b[31ma \x1b[0m\x1b[1;31mb\x1b[0m\x1b[31m c\x1b[0m\n"
    )


@given(
    st.lists(
        st.sampled_from(["[red]", "[/red]", "[/]", "[bold]", "[/bold]", "[v2]", "x", " ", "\\"]),
        max_size=12,
    )
)
def test_any_mix_of_tags_prints_without_a_markup_error(parts: list[str]) -> None:
    text = "".join(parts)
    assert literal_brackets(literal_brackets(text)) == literal_brackets(text)
    render(literal_brackets(text))  # Rich reads what is left without a MarkupError


def test_table_cells_keep_their_brackets() -> None:
    table = Table("name")
    table.add_row("pool[v2]")
    assert "pool[v2]" in printed(table)


@given(st.text(alphabet="[]/vx2 .-", max_size=40))
def test_any_bracketed_text_without_style_names_prints_as_written(text: str) -> None:
    assert printed(text).rstrip() == text.rstrip()
    assert literal_brackets(literal_brackets(text)) == literal_brackets(text)


def test_a_bracketed_output_folder_is_named_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = proposals_csv(tmp_path / "p[draft].csv", n=30)
    out = tmp_path / "gov[v2]"
    assert main(["gov", "ingest", str(source), "-o", str(out)]) == 0
    assert f"→ {out / 'proposals'}/" in capsys.readouterr().out


def test_counts_take_their_noun_in_the_singular_for_one() -> None:
    assert count_of(1, "row") == "1 row"
    assert count_of(0, "alert") == "0 alerts"
    assert count_of(1024, "row") == "1,024 rows"
    assert count_of(2, "address", "addresses") == "2 addresses"


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """Each string literal of ``tree`` whole (an f-string's fields as {}), not its parts."""
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in parts:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
    return found


def test_the_code_closes_every_style_it_opens() -> None:
    """What TextConsole relies on to tell the code's markup from a [red] in user text."""
    tag = re.compile(r"(?<!\\)\[(/?[^\[\]]*)\]")
    unclosed = []
    for path in Path(proofmind.__file__).parent.rglob("*.py"):
        for line, text in _literals(ast.parse(path.read_text(encoding="utf-8"))):
            opened: list[str] = []
            for match in tag.finditer(text):
                name = match.group(1)
                if name and _is_style(name):
                    if not name.startswith("/"):
                        opened.append(name)
                    elif opened:
                        opened.pop()
            if opened and path.name != "consoles.py":  # its docstring shows tags
                unclosed.append(f"{path.name}:{line}: {opened} in {text[:60]!r}")
    assert not unclosed, unclosed
