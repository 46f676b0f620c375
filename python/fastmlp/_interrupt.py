"""Ctrl-C while the C++ training loop waits in Python for a chunk of a data source.

The loop (cpp/bindings/training.cpp) installs a SIGINT handler of its own for the fit, which
only sets the flag it reads between mini-batches. While the loop waits here for a chunk, Python
sees no signal, so a reader that blocks (a slow network share, a FIFO) would make Ctrl-C wait
for the read: the loop hands its flag over (``stopped``, a function reading it), and the wait
polls it.
"""

from __future__ import annotations

import queue

#: How often a wait looks at the loop's flag: Ctrl-C ends it within this many seconds.
POLL_SECONDS = 0.1


def interruptible_get(q: queue.Queue, stopped=None):
    """q.get() that Ctrl-C interrupts (KeyboardInterrupt) however long the reader blocks.

    ``stopped`` is the C++ loop's: a function that says whether Ctrl-C set the loop's flag
    (polled every POLL_SECONDS while nothing comes), or None outside a fit that listens to
    Ctrl-C. Without it Python's own handler is in place (predict, evaluate: the wait's short
    timeouts let it raise KeyboardInterrupt), or Ctrl-C is not this thread's (a fit in another
    thread)."""
    while True:
        try:
            return q.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if stopped is not None and stopped():
                raise KeyboardInterrupt from None
