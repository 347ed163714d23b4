"""A deadline on every call to a sync store on a server, kept by one thread.

The server's own timeouts (statement_timeout, lock_timeout) are sent by the server: one
that stops answering (a failover that drops the network without a reset, a frozen host)
never sends them, and a call on its socket would wait forever, as would a stop that
flushes the store on its way out. A call whose server has not answered for `timeout`
seconds (since the call began, or since its last statement ended: a migration of many
rows goes on as long as the server answers) is past its deadline: the watchdog shuts
down the socket of every connection the store opened, so that each call blocked on one
raises at once, and tells the store, which then fails for the rest of the run.

A call costs two clock reads and a dict write and delete, with no hand-off to another
thread: a re-sync reads one row per record.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# How often the thread looks at the calls under way: a call is ended at most this long
# after its deadline.
_LOOK_EVERY_SECONDS = 0.25


class Watchdog:
    """Ends calls that wait longer than `timeout` seconds for an answer (see the module's
    docstring)."""

    def __init__(self, timeout: float, on_expiry: Callable[[], None]) -> None:
        self.timeout = timeout
        self._on_expiry = on_expiry
        # Per thread, when its call started: one call per thread at a time.
        self._started: dict[int, float] = {}
        # The driver's connections, weakly: one closed and collected is no longer shut.
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def watch_engine(self, engine: Engine) -> None:
        """Keeps the deadlines of this engine's calls: its connections, and its statements'
        answers."""
        sa.event.listen(engine, "connect", lambda dbapi, _: self.add_connection(dbapi))
        sa.event.listen(engine, "after_cursor_execute", lambda *_: self.answered())

    def add_connection(self, dbapi_connection: Any) -> None:
        """A new connection of the store's (SQLAlchemy's "connect" event)."""
        with self._starting:
            self._connections.add(dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="sync-store-watchdog", daemon=True
                )
                self._thread.start()

    def enter(self) -> bool:
        """A call starts on this thread; False when one is under way on it already (a
        call within a call keeps the outer one's deadline). Give the result to `leave`."""
        ident = threading.get_ident()
        if ident in self._started:
            return False
        self._started[ident] = time.monotonic()
        return True

    def answered(self) -> None:
        """A statement of this thread's call was answered: its deadline starts again."""
        ident = threading.get_ident()
        if ident in self._started:
            self._started[ident] = time.monotonic()

    def leave(self, entered: bool) -> None:
        """The call `enter` started has ended, however."""
        if entered:
            del self._started[threading.get_ident()]

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """`enter` and `leave` around a block."""
        entered = self.enter()
        try:
            yield
        finally:
            self.leave(entered)

    def stop(self) -> None:
        """No deadline is kept from now on."""
        self._stopped.set()

    def shut_all(self) -> None:
        """Shuts down the socket of every open connection: whatever waits on one ends."""
        with self._starting:
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    def _watch(self) -> None:
        while not self._stopped.wait(_LOOK_EVERY_SECONDS):
            now = time.monotonic()
            if any(now - started > self.timeout for started in self._started.copy().values()):
                self._stopped.set()
                self._on_expiry()
                self.shut_all()


def _shut(connection: Any) -> None:
    """Shuts down a driver connection's socket (psycopg's `fileno`), leaving the closing
    to its owner: a duplicate of the descriptor is shut, which shuts the socket for all."""
    try:
        descriptor = os.dup(connection.fileno())
    except Exception:  # closed already, or not a socket's connection: nothing waits on it
        return
    with socket.socket(fileno=descriptor) as sock, contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
