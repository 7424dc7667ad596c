"""The CLI's Rich consoles: the code's own markup styles, user text is printed as written.

Rich reads ``[word]`` in any printed string as a style tag and drops it, so a path, a dataset
name or a proposal title with brackets (``rows[v2].csv``) lost them, and ``[/x]`` in one raised
a markup error. :class:`TextConsole` escapes every bracket group that is not a style (``[bold]``,
``[/red]``, ``[dim]``…) before Rich reads the markup; text already escaped stays as it is (so a
backslash written just before a bracket is read as an escape). Brackets around a style name
(``[red]``) in user text are still read as markup; Rich's short forms (``[b]``, ``[i]``) are
not, so ``rows[i]`` prints as written."""

from __future__ import annotations

from functools import lru_cache
from re import Match
from typing import Any

from rich.console import Console
from rich.errors import MarkupError, StyleSyntaxError
from rich.markup import RE_TAGS, escape
from rich.style import Style
from rich.text import Text


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


def _mend(match: Match[str]) -> str:
    backslashes, tag = match.group(2), match.group(3)
    if len(backslashes) % 2 or _is_style(tag):
        return match.group(0)  # escaped already, or markup
    return f"{backslashes}\\[{tag}]"


def literal_brackets(text: str) -> str:
    """``text`` with each bracket group that Rich would read as a tag but is no style escaped."""
    return RE_TAGS.sub(_mend, text) if "[" in text else text


class TextConsole(Console):
    """A Rich console whose printed strings keep the brackets that are not style tags."""

    def render_str(self, text: str, *, markup: bool | None = None, **kwargs: Any) -> Text:
        if not (self._markup if markup is None else markup):
            return super().render_str(text, markup=markup, **kwargs)
        try:
            return super().render_str(literal_brackets(text), markup=markup, **kwargs)
        except MarkupError:  # a "[/]" closing nothing: the whole line as written, unstyled
            return super().render_str(escape(text), markup=markup, **kwargs)
