"""Entry point and error boundary: every failure is one line on stderr, never a traceback.

ProofmindErrors carry their own message. Exceptions of the libraries underneath that ordinary
input or an ordinary event can cause (a contract's custom error, a file that cannot be written,
Ctrl-C inside a DuckDB query, a Click usage error) are translated here, once, for every command;
only what is left is reported as a bug (exit 70).
"""

from __future__ import annotations

import errno
import os
import sys

import typer

# Typer vendors its own Click since 0.26 (pinned in pyproject.toml); its exceptions live here
from typer._click import exceptions as click_errors

from proofmind.errors import InputError, ProofmindError

EXIT_INTERRUPTED = 130
INTERRUPTED = (
    "interrupted; the unfinished step was not saved (what earlier steps wrote is kept) — "
    "run the command again to finish"
)


def main(argv: list[str] | None = None) -> int:
    from proofmind.cli.app import app

    try:
        code = app(args=argv, prog_name="proofmind", standalone_mode=False)
    except click_errors.NoArgsIsHelpError:
        return 2  # the help was printed
    except click_errors.ClickException as exc:
        _print_error(_usage_line(exc))
        return exc.exit_code
    except typer.Abort:
        _print_error("aborted at a prompt; nothing was changed")
        return 1
    except ProofmindError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error(INTERRUPTED)
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = known_error(exc)
        if known is not None:
            _print_error(str(known))
            return known.exit_code if not _interrupted(exc) else EXIT_INTERRUPTED
        if os.environ.get("PROOFMIND_DEBUG"):
            raise
        text = " ".join(str(exc).split())
        text = text if len(text) <= 300 else text[:300] + "…"  # library messages can be huge
        _print_error(
            f"internal error: {type(exc).__name__}: {text} — this is a bug in proofmind; "
            "rerun with PROOFMIND_DEBUG=1 to see the traceback and report it"
        )
        return 70
    if code == EXIT_INTERRUPTED:  # Typer turns Ctrl-C into Exit(130), silently
        _print_error(INTERRUPTED)
    return int(code) if isinstance(code, int) else 0


def known_error(exc: BaseException) -> ProofmindError | None:
    """The ProofmindError a library exception stands for, or None when it is a bug."""
    if _interrupted(exc):
        return ProofmindError(INTERRUPTED)
    from proofmind.chain.revert import contract_revert

    revert = contract_revert(exc)
    if revert is not None:
        return revert
    from proofmind.chain.retry import node_away

    away = node_away(exc)
    if away is not None:
        return away
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.IOException):
        return InputError(
            f"cannot read the data: {str(exc).splitlines()[0]}",
            hint="a folder that an ingestion is writing (it merges its files as it goes) may "
            "change while it is read: run the command again; otherwise check the path",
        )
    if isinstance(exc, OSError) and exc.errno in _USER_ERRNOS:
        where = f" {exc.filename}" if exc.filename else ""
        return InputError(
            f"cannot use{where}: {exc.strerror or exc}",
            hint="check the path: its folder must exist and be writable (or readable)",
        )
    return None


_USER_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EROFS,
    errno.ENOSPC,
    errno.ENAMETOOLONG,
    errno.EEXIST,
}


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C inside a DuckDB query arrives as its InterruptException, not KeyboardInterrupt."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is None:
        return False
    # depending on where the query is, DuckDB raises its InterruptException or a bare
    # RuntimeError("Query interrupted")
    return isinstance(exc, duckdb.InterruptException) or (
        type(exc) is RuntimeError and str(exc).strip() == "Query interrupted"
    )


def _usage_line(exc: click_errors.ClickException) -> str:
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click_errors.UsageError) and ctx is not None:
        return f"{message} — see `{ctx.command_path} --help`"
    return message


def _print_error(text: str) -> None:
    from proofmind.chain.redact import redact

    # the last guard: no URL in an error, ours or a library's, shows its credentials or key
    line = redact(" ".join(text.split()))  # one line, whatever the message held
    if sys.stderr.isatty():
        sys.stderr.write(f"\x1b[31merror:\x1b[0m {line}\n")
    else:
        sys.stderr.write(f"error: {line}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
