"""A DNS resolver for tests: every name fails to resolve, at once, without asking anyone.

``-s DNS_RESOLVER=tests.support.nodns.NoDNS`` makes a crawl meet a host that does not
resolve (no network, a mistyped URL) without sending a DNS query anywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from collections.abc import Sequence


class NoDNS(CachingThreadedResolver):
    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        return defer.fail(DNSLookupError(f"no results for hostname lookup: {name}"))
