"""After a failure, the rest of the tap's output is read and thrown away, for a few seconds.

A target that exits while its tap is still writing leaves Meltano writing into a closed
pipe: Meltano 4.4 then prints about 150 lines of BrokenPipeError tracebacks after the
target's one error line, which the user must scroll past to find it. Reading on until the
tap ends lets Meltano end with "Loader failed" alone. The tap of a small load ends within
a second or two of the failure; a long one is not waited for past `DRAIN_SECONDS`, so a
failed run never lasts much longer than the failure.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time

# How long a failed run keeps reading its input before it exits anyway.
DRAIN_SECONDS = 5.0


def drain_stdin(seconds: float = DRAIN_SECONDS) -> None:
    """Reads stdin until its end or for `seconds`, whichever comes first, keeping nothing.

    Only a pipe or a file is read (never a terminal, which would wait for typing), at the
    file descriptor: what Python's own buffer holds is thrown away with it."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        fd = sys.stdin.fileno()
        if os.isatty(fd):
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([fd], [], [], left)
            if not readable or not os.read(fd, 1 << 16):
                return
