import pytest
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from cpfft.items import Formation
from cpfft.pipelines import CleanPipeline, DedupePipeline, RequireKeyPipeline


@pytest.fixture
def crawler():
    crawler = get_crawler()
    crawler.stats = MemoryStatsCollector(crawler)
    return crawler


def test_clean_by_kind(crawler):
    item = Formation(
        nom_of=" AT&amp;T\r\nFormation ",
        code_departement=1.0,
        code_rncp=-1,
        contenu_formation="<ul><li>un</li><li>deux</li></ul>",
        nb_action="3",
        frais_ttc_tot_mean="1 490,50",
        nombre_heures_total_max="beaucoup",
    )
    CleanPipeline(crawler).process_item(item)
    assert item.nom_of == "AT&T Formation"
    assert item.code_departement == "1"
    assert item.code_rncp == "-1"
    assert item.contenu_formation == "• un\n• deux"
    assert item.nb_action == 3
    assert item.frais_ttc_tot_mean == 1490.5
    assert item.nombre_heures_total_max is None
    assert crawler.stats.get_value("cpfft/blanked/nombre_heures_total_max") == 1


def test_rows_without_key_are_dropped_and_counted(crawler):
    pipeline = RequireKeyPipeline(crawler)
    with pytest.raises(DropItem):
        pipeline.process_item(Formation(numero_formation=None, code_departement="75"))
    assert crawler.stats.get_value("cpfft/dropped/missing_numero_formation") == 1
    kept = Formation(numero_formation="1_A", code_departement=None)
    assert pipeline.process_item(kept) is kept


def test_dedupe_on_formation_and_departement(crawler):
    pipeline = DedupePipeline(crawler)
    pipeline.process_item(Formation(numero_formation="1_A", code_departement="75"))
    pipeline.process_item(Formation(numero_formation="1_A", code_departement="92"))
    pipeline.process_item(Formation(numero_formation="1_A", code_departement=None))
    with pytest.raises(DropItem):
        pipeline.process_item(Formation(numero_formation="1_A", code_departement="75", nom_of="x"))
    with pytest.raises(DropItem):
        pipeline.process_item(Formation(numero_formation="1_A", code_departement=None))
    assert crawler.stats.get_value("cpfft/dropped/duplicate") == 2
