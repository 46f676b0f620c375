"""Ctrl-C while the C++ training loop waits in Python for a chunk of a data source.

The loop (cpp/bindings/training.cpp) installs a SIGINT handler of its own for the fit, which
only sets the flag it reads between mini-batches. While the loop waits here for a chunk, that
flag is read by no one, so a reader that blocks (a slow network share, a FIFO) made Ctrl-C wait
for the read. ``interruptible_get`` puts Python's own handler back for the wait.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import threading


def interruptible_get(q: queue.Queue):
    """q.get() that Ctrl-C interrupts (KeyboardInterrupt) however long the reader blocks.

    The C++ training loop, which calls this for each chunk, installs a SIGINT handler of its own
    that only sets the flag it reads between mini-batches; while the loop waits here for a chunk
    that flag is read by no one. So in the main thread Python's own handler is put back for the
    wait (the loop's is saved and restored as an opaque struct sigaction through libc), and the
    wait is short timeouts in a loop, so that a Ctrl-C is delivered within 0.1 s. The first 50 ms
    wait without the swap (it costs ~10 us: tiny chunks pay nothing)."""
    try:  # the reader usually keeps up: no swap (a Ctrl-C meanwhile sets the loop's flag, as before)
        return q.get(timeout=0.05)
    except queue.Empty:
        pass
    swap = _sigint_swap()
    try:
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
    finally:
        if swap is not None:
            swap()


def _sigint_swap():
    """In the main thread on POSIX: installs Python's SIGINT handler and returns the function that
    puts back the handler that was there (the C++ loop's); else None (nothing to swap)."""
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        return None
    handler = signal.getsignal(signal.SIGINT)
    if handler is None or _libc() is None:  # not installed from Python: nothing to put in its place
        return None
    saved = ctypes.create_string_buffer(512)  # larger than any platform's struct sigaction
    if _libc().sigaction(signal.SIGINT, None, saved) != 0:
        return None
    signal.signal(signal.SIGINT, handler)
    return lambda: _libc().sigaction(signal.SIGINT, saved, None)


_LIBC = []


def _libc():
    if not _LIBC:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.sigaction.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        except (OSError, AttributeError):
            libc = None
        _LIBC.append(libc)
    return _LIBC[0]
