"""What every command shares: exit statuses, the input-error exception, warnings, output checks."""

from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CLIError(Exception):
    """A mistake in the input: printed as ``fastmlp <command>: error: <message>``, exit status 2."""


def warn(msg: str) -> None:
    print(f"fastmlp: warning: {msg}", file=sys.stderr)


def check_writable(path, option: str) -> None:
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path} is a folder; give a file name")


def need_matplotlib(option: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError(f"{option} needs matplotlib: pip install 'fastmlp[demo]'") from None
