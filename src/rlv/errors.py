"""One exception type for every problem a user can fix; the CLI prints it as one line and exits non-zero."""

from __future__ import annotations

import difflib
import sys


class RlvError(Exception):
    """A readable, user-facing error. The message names the file or option and the problem."""


def did_you_mean(word: str, choices: list[str]) -> str:
    """`; did you mean 'X'?` for the choice closest to `word`, or nothing: the end of an
    unknown-name error."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def warn(message: str) -> None:
    """One `rlv: warning: ...` line on stderr: a doubtful input that is still used."""
    print(f"rlv: warning: {message}", file=sys.stderr)
