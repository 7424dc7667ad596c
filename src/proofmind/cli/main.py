"""Entry point and error boundary: a ProofmindError is one line on stderr, never a traceback."""

from __future__ import annotations

import os
import sys

from proofmind.errors import ProofmindError


def main(argv: list[str] | None = None) -> int:
    from proofmind.cli.app import app

    try:
        app(args=argv, prog_name="proofmind", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except ProofmindError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("PROOFMIND_DEBUG"):
            raise
        _print_error(
            f"internal error: {type(exc).__name__}: {exc} — this is a bug in proofmind; "
            "rerun with PROOFMIND_DEBUG=1 to see the traceback and report it"
        )
        return 70
    return 0


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
