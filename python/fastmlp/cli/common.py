"""What every command shares: exit statuses, the input-error exception, warnings, output checks."""

from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CLIError(Exception):
    """A mistake in the input: printed as ``fastmlp <command>: error: <message>``, exit status 2."""


def warn(msg: str) -> None:
    print(f"fastmlp: warning: {msg}", file=sys.stderr)


def check_writable(path, option: str, *inputs) -> None:
    """CLIError unless ``path`` can be written: its folder exists, it is no folder, and it is none
    of the command's ``inputs`` (the data or model file read: writing there would lose it)."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path} is a folder; give a file name")
    for given in inputs:
        if given is not None and os.path.isfile(path) and os.path.isfile(given) and os.path.samefile(path, given):
            raise CLIError(
                f"{option} {path} is the input file {given}: writing there would replace it; give another name"
            )


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_model_fits(sizes: list, dtype: str) -> None:
    """A model whose weights and gradients alone exceed this machine's memory is an input error
    (--layers), said before anything is allocated (not a MemoryError traceback). The optimizer's
    state comes on top: this is a lower bound."""
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    need = params * (4 if dtype == "float32" else 8) * 2  # weights and gradients
    have = physical_memory()
    if have is not None and need > have:
        raise CLIError(
            f"--layers {','.join(map(str, sizes[1:-1])) or 'none'}: the model would have {params:,} parameters, "
            f"{need / 2**30:.1f} GiB with their gradients, more than this machine's "
            f"{have / 2**30:.1f} GiB of memory"
        )


def progress_callbacks(args, shown: bool) -> list:
    """fit's callbacks for train's --verbose (Keras's: 1 a bar and a line per epoch, 2 the lines, 0
    nothing; --no-progress is 0); under mpiexec only rank 0 (``shown``) reports."""
    from fastmlp.callbacks import ProgressBar

    verbose = 0 if args.no_progress else args.verbose
    return [ProgressBar(verbose=verbose)] if verbose and shown else []


def need_matplotlib(option: str, path=None) -> None:
    """CLIError unless matplotlib is there and writes ``path``'s format (said before training, not after)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError(f"{option} needs matplotlib: pip install 'fastmlp[demo]'") from None
    if path is not None:
        from matplotlib.backend_bases import FigureCanvasBase

        ext = os.path.splitext(path)[1][1:].lower()
        formats = FigureCanvasBase.get_supported_filetypes()
        if ext and ext not in formats:
            raise CLIError(f"{option} {path}: matplotlib writes {', '.join(sorted(formats))} images, not {ext!r}")
