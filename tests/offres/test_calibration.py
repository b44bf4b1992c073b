"""The calibration names each way the API may read bounds, in a handful of calls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cpfft.offres.bounds import BELOW_SECOND, EXCLUSIVE, INCLUSIVE_MS, INCLUSIVE_SECOND, PARIS
from cpfft.offres.calibration import Calibration, Seen, cap_from_message
from tests.offres.drive import calibrate
from tests.offres.simapi import SimApi, dataset

NOW = int(datetime(2026, 12, 1, 12, 0, 7, tzinfo=UTC).timestamp() * 1000)
ZONES = ["UTC", PARIS, "+02:00", "-05:00", "+01:00", "+14:00", "-12:00"]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(("inclusive", "ms"), [(True, False), (True, True), (False, False),
                                               (False, True)])  # fmt: skip
def test_each_mode_is_named(zone, inclusive, ms):
    api = SimApi(dataset(20_000, NOW, exact_every=10), zone=zone, max_inclusive=inclusive,
                 compare_ms=ms)  # fmt: skip
    calibration = calibrate(api, NOW)
    assert calibration.failure is None
    assert calibration.reading.zone == zone
    expected = (
        INCLUSIVE_SECOND if inclusive and not ms else INCLUSIVE_MS if inclusive else EXCLUSIVE
    )
    assert calibration.reading.slack == expected
    assert calibration.cap == 3000
    assert calibration.calls == api.calls <= 7


def test_without_an_offer_at_an_exact_second_the_slack_stays_a_range():
    api = SimApi(dataset(20_000, NOW, exact_every=0), max_inclusive=False)
    calibration = calibrate(api, NOW)
    assert calibration.reading.slack == BELOW_SECOND
    assert calibration.calls <= 5


@pytest.mark.parametrize("cap", [1000, 2000, 3000])
def test_the_window_cap_is_read_from_the_refusal(cap):
    api = SimApi(dataset(5000, NOW), cap=cap)
    assert calibrate(api, NOW).cap == cap


def test_cap_message_parser():
    assert cap_from_message("La position de début doit être inférieure ou égale à 1000.") == 1000
    assert cap_from_message("La plage de résultats demandée est trop importante.") is None


def test_no_old_offer_means_no_calibration_but_no_crash():
    calibration = Calibration(NOW, "2000-01-01T00:00:00Z")
    steps = calibration.steps()
    probe = next(steps)
    assert probe.purpose == "zone"
    probe = steps.send(Seen(204))
    assert probe.purpose == "window cap"
    with pytest.raises(StopIteration):
        steps.send(Seen(204))
    assert calibration.reading is None
    assert "no offer older than 13 hours" in calibration.failure
