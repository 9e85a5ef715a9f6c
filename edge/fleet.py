"""Drives many ``EdgeClient``s from one thread on a selector.

One thread and one selector instead of a paho network thread per client: thousands of
devices then cost one core, not thousands of threads fighting over the GIL. The fleet calls
paho's ``loop_read``/``loop_write``/``loop_misc`` itself, connects and reconnects clients with
their backoff, and feeds the clients that were woken (new rows, freed window).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from wayhouse.edge.client import EdgeClient


class Fleet:
    """Producers on other threads queue through the clients' outboxes and ``wake()`` them;
    everything that touches paho happens on the fleet's thread."""

    def __init__(
        self,
        clients: Iterable[EdgeClient] = (),
        *,
        housekeeping_s: float = 0.25,
        max_connects_per_round: int = 500,
        name: str = "edge-fleet",
    ) -> None:
        self.name = name
        self.housekeeping_s = housekeeping_s
        self.max_connects_per_round = max_connects_per_round
        self.clients: list[EdgeClient] = []
        self._sel = selectors.DefaultSelector()
        self._wakeq: deque[EdgeClient] = deque()
        self._rsock, self._wsock = socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._sel.register(self._rsock, selectors.EVENT_READ, None)
        self._alarm = False
        self._owner: int | None = None
        self._next_housekeeping = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._flush_timeout = 5.0
        for c in clients:
            self.add(c)

    def add(self, client: EdgeClient) -> None:
        if client._fleet is not None:
            raise ValueError(f"{client.agent_id} is already driven by a fleet")
        client._fleet = self
        self.clients.append(client)

    # ---- cross-thread wakeups -----------------------------------------------------------

    def wake(self, client: EdgeClient) -> None:
        if not client._wake_queued:
            client._wake_queued = True
            self._wakeq.append(client)
        if threading.get_ident() != self._owner and not self._alarm:
            self._alarm = True
            with contextlib.suppress(BlockingIOError, OSError):
                self._wsock.send(b"\0")

    # ---- selector plumbing (paho socket callbacks) --------------------------------------

    def _register(self, client: EdgeClient, sock: Any) -> None:
        client._write_interest = False
        self._sel.register(sock, selectors.EVENT_READ, client)

    def _unregister(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(sock)

    def _flush_writes(self, client: EdgeClient) -> None:
        """Write what paho queued; watch for writability only while the socket pushes back.

        Without paho's register-write callbacks, a publish outside a callback is written at
        once, which saves two epoll_ctl calls per message; the rest is caught up here."""
        m = client._mqtt
        if m.wbuf:
            m.flush_wbuf()
        if m.want_write() and not m.wbuf:
            m.loop_write()
        want = m.wants_write() and m.socket() is not None
        if want != client._write_interest:
            client._write_interest = want
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            with contextlib.suppress(KeyError, ValueError):
                self._sel.modify(m.socket(), events, client)

    # ---- the loop -----------------------------------------------------------------------

    def step(self, timeout: float = 0.05) -> None:
        """One round: housekeeping when due, network events, then feed woken clients."""
        self._owner = threading.get_ident()
        now = time.monotonic()
        if now >= self._next_housekeeping:
            self._housekeeping(now)
            self._next_housekeeping = now + self.housekeeping_s
        timeout = 0.0 if self._wakeq else max(0.0, min(timeout, self._next_housekeeping - now))
        for key, mask in self._sel.select(timeout):
            client: EdgeClient | None = key.data
            if client is None:
                self._drain_alarm()
                continue
            c = client._mqtt
            if mask & selectors.EVENT_READ:
                c.loop_read()
                sock = c.socket()
                while isinstance(sock, ssl.SSLSocket) and sock.pending():
                    c.loop_read()
                    sock = c.socket()
            self._flush_writes(client)
        wakeq = self._wakeq
        while wakeq:
            client = wakeq.popleft()
            client._wake_queued = False
            if client.pump():
                self._flush_writes(client)

    def _drain_alarm(self) -> None:
        self._alarm = False
        try:
            while self._rsock.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _housekeeping(self, now: float) -> None:
        connects = 0
        for client in self.clients:
            if client._state == "idle" and now >= client._next_attempt:
                if connects >= self.max_connects_per_round:
                    continue  # spread a reconnect storm over several rounds
                connects += 1
                client._attempt(now)
            else:
                client._housekeeping(now)
            self._flush_writes(client)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        until: Callable[[], bool] | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Step until ``stop`` is set, ``until()`` is true or ``timeout`` s passed; return
        whether ``until`` was met (True when there is none and we stopped otherwise)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if until is not None and until():
                return True
            if stop is not None and stop.is_set():
                return until is None
            if deadline is not None and time.monotonic() >= deadline:
                return until is None
            self.step()

    def all_idle(self) -> bool:
        """Nothing left to send anywhere (queued, waiting or in flight)."""
        return all(c.idle() for c in self.clients)

    def close(self, flush_timeout: float = 5.0) -> bool:
        """From the driving thread: say ``offline``, send what we can for up to
        ``flush_timeout`` s, disconnect cleanly. Returns whether everything was sent."""
        for c in self.clients:
            if c.connected and c.status:
                c._status("offline", "shutdown")
        flushed = self.run(until=self.all_idle, timeout=flush_timeout)
        for c in self.clients:
            was = c._state
            c._state = "stopped"
            if was in ("connected", "connecting"):
                c._mqtt.disconnect()
                c._mqtt.loop_write()  # sends DISCONNECT, which closes the socket
            c.outbox.flush()
        self._sel.close()
        self._rsock.close()
        self._wsock.close()
        return flushed

    # ---- background thread ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("fleet already started")
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        self._owner = threading.get_ident()
        try:
            self.run(self._stop)
        finally:
            self.close(self._flush_timeout)

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop the background thread (flushing for up to ``flush_timeout`` s) and wait."""
        self._flush_timeout = flush_timeout
        self._stop.set()
        with contextlib.suppress(OSError):  # already closed: the loop has ended
            self._wsock.send(b"\0")
        if self._thread is not None:
            self._thread.join()
