"""Every component is listed in cpfft/settings.py; a source's own ones switch themselves off
(NotConfigured) in the other source's runs, instead of being added by the spiders."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

from cpfft.cpf.spider import CpfSpider
from cpfft.offres.spider import OffresSpider

QUOTA = "cpfft.cpf.quota.OpendatasoftQuotaMiddleware"
OAUTH = "cpfft.offres.oauth.OAuth2TokenMiddleware"


def test_each_source_middleware_is_listed_in_the_project_settings():
    listed = get_project_settings().getdict("DOWNLOADER_MIDDLEWARES")
    assert listed[QUOTA] == 560
    assert listed[OAUTH] == 650
    # Nothing adds middlewares behind the settings' back any more.
    assert not hasattr(CpfSpider, "middlewares")
    assert not hasattr(OffresSpider, "middlewares")


@pytest.mark.parametrize(
    ("spider", "flag", "off"),
    [(CpfSpider, "CPF_QUOTA_ENABLED", OAUTH), (OffresSpider, "FT_OAUTH_ENABLED", QUOTA)],
)
def test_a_source_middleware_is_on_only_in_its_own_runs(spider, flag, off):
    settings = get_project_settings()
    assert not settings.getbool(flag)  # off unless a spider asks for it
    spider.update_settings(settings)
    assert settings.getbool(flag)  # (the crawl tests show the middleware at work then)
    with pytest.raises(NotConfigured):
        load_object(off).from_crawler(SimpleNamespace(settings=settings))
