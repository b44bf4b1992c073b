"""OAuth2 client-credentials bearer tokens for the France Travail API.

Per the Scrapy 2.18+ recipe (downloader-middleware docs, ``_mw-download``):

- the token is fetched through the engine (``engine.download_async``), so the
  token call shares the API's rate-limit slot, retries and stats;
- single flight: N requests needing a token while none is valid cause one
  token call, the others wait on it;
- refreshed before it expires (``expires_in`` minus a margin), and on a 401:
  the token is dropped once and the request retried (at most
  ``FT_OAUTH_401_RETRIES`` times, counted in ``cpfft/oauth/401_retries``);
- added only to requests for the configured API origin (scheme, host, port of
  ``FT_API_URL``), never to another host, including after a redirect;
- removed from every request once its response or error is in, so retries,
  redirects and requests persisted under ``JOBDIR`` never carry it.

A refused token request stops the crawl with one line: ``invalid_client``
lists its three usual causes. The client secret only ever travels in the token
request's form body, which Scrapy does not log.

Place it at 650: after the retry middleware's wait (550) and the pacing (640),
so a token is attached when the request may start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import FormRequest
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK

from cpfft.errors import ConfigurationError, first_line
from cpfft.middlewares.pace import PaceMiddleware
from cpfft.offres.credentials import Credentials, load_credentials
from cpfft.run.state import is_stopping, stop_crawl

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

logger = logging.getLogger(__name__)

TOKEN_REQUEST = "cpfft_token_request"  # noqa: S105 - a meta key, not a secret
GENERATION = "cpfft_token_generation"
RETRIED_401 = "cpfft_401_retries"
STALE_401 = "cpfft_stale_401_retries"
STALE_401_MAX = 8
TOKEN_PRIORITY = 1000
INVALID_CLIENT_HELP = (
    "France Travail refused the credentials (invalid_client). Usual causes: (1) the API "
    "« Offres d'emploi v2 » is not attached to your application on francetravail.io; (2) its "
    "licence (conditions d'utilisation) was not accepted; (3) spaces or a line break around "
    "FT_CLIENT_SECRET or FT_CLIENT_ID. Fix it, then run again"
)


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return (parts.scheme, (parts.hostname or "").lower(), parts.port or default)


class OAuth2TokenMiddleware:
    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        if not settings.getbool("FT_OAUTH_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.api_origin = origin(settings["FT_API_URL"])
        self.token_url = settings["FT_TOKEN_URL"]
        self.scope = " ".join(str(settings["FT_SCOPE"]).split())
        self.slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
        self.max_401_retries = settings.getint("FT_OAUTH_401_RETRIES", 2)
        self.credentials: Credentials | None = None
        self.token: str | None = None
        self.generation = 0
        self.refresh_at = 0.0
        self.expires_in: Any = None  # the last token answer's expires_in, as sent (for the probe)
        self._pending: asyncio.Future[None] | None = None
        self.clock = time.monotonic  # replaceable in tests

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OAuth2TokenMiddleware:
        return cls(crawler)

    def for_api(self, request: Request) -> bool:
        return origin(request.url) == self.api_origin

    # ------------------------------------------------------------ requests

    async def process_request(self, request: Request) -> None:
        if request.meta.get(TOKEN_REQUEST):
            return
        if not self.for_api(request):
            if request.headers.pop(b"Authorization", None) is not None:
                self.crawler.stats.inc_value("cpfft/oauth/stripped_foreign")
            return
        if is_stopping(self.crawler):
            raise IgnoreRequest("crawl stopping")
        if await self.ensure_token():
            # Paced before it waited for the new token, with others: paced again, so
            # they do not all start at once (nor inside a 429's wait that came meanwhile).
            pace = self.crawler.get_downloader_middleware(PaceMiddleware)
            if pace is not None:
                await pace.pace_again(request)
                await self.ensure_token()  # a 401 may have dropped it meanwhile
        if self.token is None:
            raise IgnoreRequest("no France Travail token")
        request.headers[b"Authorization"] = f"Bearer {self.token}".encode()
        request.meta[GENERATION] = self.generation

    def process_response(self, request: Request, response: Response) -> Request | Response:
        request.headers.pop(b"Authorization", None)
        if response.status != 401 or request.meta.get(TOKEN_REQUEST) or not self.for_api(request):
            return response
        # Only the first 401 for the newest token says "this token is refused": drop it.
        # Any other 401 is for a token already known bad (revoked or expired while the
        # request waited in the rate-capped queue) and says nothing about the next one:
        # retried within a looser bound.
        used = request.meta.get(GENERATION)
        stale = used is None or used < self.generation or self.token is None
        if not stale:
            self.token = None
        key, bound = (STALE_401, STALE_401_MAX) if stale else (RETRIED_401, self.max_401_retries)
        tries = request.meta.get(key, 0)
        if tries >= bound:
            logger.error("France Travail still answers 401 with a fresh token: %s", request.url)
            return response
        self.crawler.stats.inc_value("cpfft/oauth/401_retries")
        retry = request.replace(dont_filter=True)
        retry.meta[key] = tries + 1
        retry.meta.pop(GENERATION, None)
        return retry

    def process_exception(self, request: Request, exception: Exception) -> None:
        request.headers.pop(b"Authorization", None)

    # ------------------------------------------------------------ token

    async def ensure_token(self) -> bool:
        """A valid token, fetched if need be; True if the request had to wait for one."""
        if self.token is not None and self.clock() < self.refresh_at:
            return False
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.fetch_token())
            self._pending.add_done_callback(self._fetched)
        await asyncio.shield(self._pending)
        return True

    def _fetched(self, future: asyncio.Future[None]) -> None:
        self._pending = None
        if not future.cancelled() and future.exception() is not None:
            logger.error("Token fetch failed: %s", type(future.exception()).__name__)

    async def fetch_token(self) -> None:
        if self.credentials is None:
            try:
                self.credentials = load_credentials()
            except ConfigurationError as exc:
                stop_crawl(self.crawler, "oauth_no_credentials", str(exc))
                return
            if self.credentials.trimmed:
                logger.warning(
                    "Spaces or line breaks around the France Travail credentials were removed"
                )
        creds = self.credentials
        request = FormRequest(
            self.token_url,
            formdata={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.secret,
                "scope": self.scope,
            },
            callback=NO_CALLBACK,
            dont_filter=True,
            priority=TOKEN_PRIORITY,  # ahead of every request waiting for it to be paced
            meta={
                TOKEN_REQUEST: True,
                "dont_obey_robotstxt": True,
                "download_slot": self.slot,
                "step": "the France Travail token",  # how retry lines name it
            },
        )
        self.crawler.stats.inc_value("cpfft/oauth/token_requests")
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - any failure ends in one clear line
            reason = first_line(exc)
            stop_crawl(
                self.crawler,
                "oauth_token_failed",
                f"Could not reach the France Travail token URL: {reason}",
            )
            return
        self.accept(response)

    def accept(self, response: Response) -> None:
        try:
            body: Any = json.loads(response.body)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status == 200 and isinstance(body.get("access_token"), str):
            lifetime = self.expires_in = body.get("expires_in")
            lifetime = (
                float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else 1499.0
            )
            self.token = body["access_token"]
            self.generation += 1
            # Refresh early: 60 s before expiry (half a short lifetime), which also covers
            # the seconds a request may wait in the rate-capped queue with its token.
            self.refresh_at = self.clock() + lifetime - min(60.0, lifetime / 2)
            logger.debug("France Travail token %d obtained, valid %d s", self.generation, lifetime)
            return
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or "").strip()
        if error == "invalid_client":
            message = INVALID_CLIENT_HELP
        elif error == "invalid_scope":
            message = (
                f"France Travail refused the scope {self.scope!r} ({description or error}). Set "
                "FT_SCOPE to the scopes of your application, e.g. 'api_offresdemploiv2 o2dsoffre'"
            )
        else:
            detail = f"{error}: {description}" if error else f"HTTP {response.status}"
            message = f"France Travail refused the token request ({detail}); check FT_TOKEN_URL"
        stop_crawl(self.crawler, f"oauth_{error or 'token_failed'}", message)
