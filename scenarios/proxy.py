"""A TCP proxy that can cut a service off: PostgreSQL 'unreachable' without stopping it.

The shared PostgreSQL server must keep running for everyone else, so the
worker reaches it through this proxy (asyncio, in a thread of the scenario
process). ``cut()`` closes every open connection and refuses new ones (each
is accepted and closed at once) until ``restore()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support.services import free_port

__all__ = ["CuttableProxy"]

_CHUNK = 65536


class CuttableProxy:
    """127.0.0.1:<port> forwarded to ``target_host:target_port`` while not cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._cut = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.refused = 0

    def start(self) -> CuttableProxy:
        """Listen; returns self."""
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        return self

    def cut(self) -> None:
        """Close every connection now and refuse new ones."""
        self._cut = True
        self._loop.call_soon_threadsafe(self._close_all)

    def restore(self) -> None:
        """Forward new connections again."""
        self._cut = False

    def stop(self) -> None:
        """Close everything and stop the loop."""
        self.cut()
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            # An unclosed loop warns when garbage-collected, which fails whatever
            # test is running then (pytest turns warnings into errors).
            self._loop.close()

    def _call(self, coroutine: object) -> asyncio.Server:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        return future.result(timeout=10)

    def _close_all(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the other side went away or the proxy cut it: close below
        finally:
            self._open.discard(writer)
            with contextlib.suppress(RuntimeError):
                writer.transport.abort()
