"""Pipeline settings read from the environment, and the errors a wrong value gives."""

from __future__ import annotations

from datetime import date

import pytest

from genesys_assets.settings import PipelineSettings, SettingsError

TODAY = date(2026, 11, 23)


def test_defaults() -> None:
    settings = PipelineSettings.from_env({}, today=TODAY)
    assert settings.timezone == "UTC"
    assert settings.granularity == "PT30M"
    assert settings.interval_minutes == 30
    # Genesys reprocesses data at least 48 hours old, starting once conversations are three days old; a week
    # of nightly re-reads covers that with room for a slow run, in one 7-day query a night.
    assert settings.lookback_days == 7
    assert settings.channel_window_days == 28
    assert settings.queue_ids == ()


def test_queue_filter_is_parsed() -> None:
    settings = PipelineSettings.from_env({"GENESYS_QUEUE_IDS": " a, b ,,c "}, today=TODAY)
    assert settings.queue_ids == ("a", "b", "c")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"GENESYS_TIMEZONE": "Mars/Olympus"}, "Set GENESYS_TIMEZONE to an IANA name"),
        ({"GENESYS_START_DATE": "01/02/2026"}, "is not an ISO date"),
        ({"GENESYS_START_DATE": "2027-01-01"}, "is not in the past"),
        ({"GENESYS_GRANULARITY": "PT5M"}, "use one of PT15M, PT30M, PT1H"),
        ({"GENESYS_LOOKBACK_DAYS": "three"}, "GENESYS_LOOKBACK_DAYS='three' is not a whole number"),
        ({"GENESYS_GAP_WINDOW_DAYS": "0"}, "must be at least 1"),
        ({"GENESYS_CHANNEL_WINDOW_DAYS": "-3"}, "GENESYS_CHANNEL_WINDOW_DAYS=-3 must be at least 1"),
    ],
)
def test_bad_values_name_the_variable_and_fix(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=None) as excinfo:
        PipelineSettings.from_env(env, today=TODAY)
    assert fragment in str(excinfo.value)
