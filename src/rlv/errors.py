"""One exception type for every problem a user can fix; the CLI prints it as one line and exits non-zero."""

from __future__ import annotations


class RlvError(Exception):
    """A readable, user-facing error. The message names the file or option and the problem."""
