"""Faults both emulators can inject into any API call: the chaos suite's knobs.

Each knob is the share of API calls it hits (0 = never), drawn from the
emulator's seeded fault generator so a run can be replayed:

- ``slow_rate``: the answer comes only after ``slow_ms`` (beyond a client timeout);
- ``reset_rate``: the connection is dropped before any answer (connection reset);
- ``malformed_rate``: ``200`` with a body that is not JSON (an answer cut by a proxy);
- ``cut_rate``: the real answer, announced whole by ``Content-Length``, stops
  halfway and the connection drops (a truncated body);
- ``down_after``: after that many calls, every call answers 503 (an outage).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

MALFORMED = b'{"results": [{"truncated by a proxy": '


@dataclass
class FaultKnobs:
    slow_rate: float = 0.0
    slow_ms: float = 5000.0
    reset_rate: float = 0.0
    malformed_rate: float = 0.0
    cut_rate: float = 0.0
    down_after: int = 0


async def before_answer(
    request: web.Request, knobs: FaultKnobs, rng: random.Random, counters: Counter[str]
) -> web.StreamResponse | None:
    """A fault answer instead of the real one, or None (maybe after a delay)."""
    counters["fault_checks"] += 1
    if knobs.down_after and counters["fault_checks"] > knobs.down_after:
        counters["down"] += 1
        return web.Response(status=503, text="<html><body>Service Unavailable</body></html>",
                            content_type="text/html")  # fmt: skip
    if knobs.slow_rate and rng.random() < knobs.slow_rate:
        counters["slow"] += 1
        await asyncio.sleep(knobs.slow_ms / 1000)
    if knobs.reset_rate and rng.random() < knobs.reset_rate:
        counters["reset"] += 1
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client
    if knobs.malformed_rate and rng.random() < knobs.malformed_rate:
        counters["malformed"] += 1
        return web.Response(status=200, body=MALFORMED, content_type="application/json")
    return None


async def maybe_cut(
    request: web.Request,
    response: web.StreamResponse,
    knobs: FaultKnobs,
    rng: random.Random,
    counters: Counter[str],
) -> web.StreamResponse:
    """Send only half of a (non-streamed) answer, then drop the connection."""
    if not knobs.cut_rate or not isinstance(response, web.Response) or not response.body:
        return response
    if rng.random() >= knobs.cut_rate:
        return response
    counters["cut"] += 1
    body = bytes(response.body)
    cut = web.StreamResponse(status=response.status, headers=response.headers)
    cut.content_length = len(body)
    await cut.prepare(request)
    await cut.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.abort()
    return cut
