"""Run an aiohttp application on 127.0.0.1 in a background thread.

A thread (not the test's event loop) so the same emulator serves in-process
tests and ``scrapy crawl`` subprocesses alike, whatever reactor they use.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web

logger = logging.getLogger("tests.fakeapi")


@web.middleware
async def client_gone(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A client that drops its connection mid-answer (killed, timed out) is one log line.

    Without this, aiohttp logs a streamed answer's failed write with a traceback.
    """
    try:
        return await handler(request)
    except ConnectionError as exc:
        logger.warning(
            "client %s went away during %s %s (%s)",
            request.remote,
            request.method,
            request.path,
            exc.strerror or str(exc) or type(exc).__name__,
        )
        return web.Response(status=499)  # never reaches the client: the answer is not sent


class ServerThread:
    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="fakeapi", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"emulator failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except Exception as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self.loop.close()
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
