"""The CLI's Rich consoles: the code's own markup styles, user text is printed as written.

Rich reads ``[word]`` in any printed string as a style tag and drops it, so a path, a dataset
name or a proposal title with brackets (``rows[v2].csv``) lost them, and ``[/x]`` in one raised
a markup error. :class:`TextConsole` escapes, before Rich reads the markup, every bracket group
that is not a style, and every style tag without its pair (``[red]`` in a file name: the code
closes each style it opens, ``[bold]…[/bold]`` or ``[dim]…[/]``); text already escaped stays as
it is (so a backslash written just before a bracket is read as an escape). A pair of style tags
in user text (``[red]x[/red]``) is still read as markup; Rich's short forms (``[b]``, ``[i]``)
never are, so ``rows[i]`` prints as written."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.errors import MarkupError, StyleSyntaxError
from rich.markup import RE_TAGS, escape
from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import Progress


@lru_cache(maxsize=512)
def _is_style(tag: str) -> bool:
    """Whether ``tag`` (the text between the brackets) opens or closes a style."""
    name = tag.removeprefix("/").strip()
    if not name:
        return tag == "/"  # "[/]" closes the last style
    if any(len(word) < 3 and word != "on" for word in name.split()):
        return False  # Rich's one-letter abbreviations ([b], [i], [s]) are indexes in user text
    try:
        Style.parse(name)
    except StyleSyntaxError:
        return False
    return True


def _normal(name: str) -> str:
    return " ".join(name.lower().split())  # as Rich compares an opening and a closing tag


def literal_brackets(text: str) -> str:
    """``text`` with each bracket group that Rich would read as a tag but is no markup of the
    code's escaped: every group that is no style, and a style tag nothing closes (``[red]`` in
    a file name) or that closes nothing (``[/red]``, ``[/]``). The code closes each style it
    opens, so an opening tag counts only with its closing one after it, paired as Rich pairs
    them (``[/name]`` the last ``[name]`` still open, ``[/]`` the last one)."""
    if "[" not in text:
        return text
    tags = list(RE_TAGS.finditer(text))
    kept = [len(m.group(2)) % 2 == 1 for m in tags]  # escaped already: left as it is
    still_open: list[tuple[int, str]] = []  # (index in tags, name) of styles opened
    for i, match in enumerate(tags):
        tag = match.group(3)
        if kept[i] or not _is_style(tag):
            continue
        if not tag.startswith("/"):
            still_open.append((i, _normal(tag)))
            continue
        name = _normal(tag[1:])
        for j in range(len(still_open) - 1, -1, -1):
            if not name or still_open[j][1] == name:
                opening, _ = still_open.pop(j)
                kept[i] = kept[opening] = True
                break
    parts, done = [], 0
    for match, keep in zip(tags, kept, strict=True):
        if not keep:
            parts += [text[done : match.start()], f"{match.group(2)}\\[{match.group(3)}]"]
            done = match.end()
    return "".join(parts) + text[done:]


class TextConsole(Console):
    """A Rich console whose printed strings keep the brackets that are not the code's markup."""

    def render_str(self, text: str, *, markup: bool | None = None, **kwargs: Any) -> Text:
        if not (self._markup if markup is None else markup):
            return super().render_str(text, markup=markup, **kwargs)
        try:
            return super().render_str(literal_brackets(text), markup=markup, **kwargs)
        except MarkupError:  # a "[/]" closing nothing: the whole line as written, unstyled
            return super().render_str(escape(text), markup=markup, **kwargs)


def block_progress(console: Console, label: str) -> Progress:
    """A progress bar of blocks done of blocks to go with a time estimate, ``label`` before
    it, shown on ``console`` while it runs when that is a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
