"""A stop a signal asked for, acted on only where acting on it loses nothing.

A signal handler runs on the main thread between any two bytecodes. Raising from it
anywhere would let an `except Exception` swallow the stop (the run reads on and exits 0),
or leave a record admitted to delivery but never handed on (the run then waits for it
forever). So the handler raises only where the main thread is at a safe point (starting,
or waiting for the next input line); elsewhere it notes the signal, and the reading loop
and delivery's waits check the note at their own safe points.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from target_intercom.errors import Interrupted


class StopRequest:
    """The signal asked for, if any; and whether the main thread is at a safe point."""

    def __init__(self) -> None:
        self.signum: int | None = None
        # Before the first line, nothing is admitted to delivery: a stop is safe at once.
        self.at_safe_point = True

    def requested(self, signum: int) -> None:
        """Called by the signal handler: stops now at a safe point, else at the next one."""
        self.signum = signum
        if self.at_safe_point:
            self.check()

    def check(self) -> None:
        """Raises `Interrupted` once a stop was asked for."""
        if self.signum is not None:
            raise Interrupted(
                f"stopped by signal {self.signum}; the last STATE written is the one to resume from"
            )

    def lines(self, source: Iterable[str]) -> Iterator[str]:
        """The input's lines, with a safe point before each: while the main thread waits
        for a line it is at one, and a stop asked for while it handled the last line is
        acted on before it takes the next."""
        lines = iter(source)
        while True:
            self.at_safe_point = True
            try:
                self.check()
                line = next(lines, None)
            finally:
                self.at_safe_point = False
            if line is None:
                return
            yield line
