"""Channels from traffic, the expected grid and the interval KPI table."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genesys_assets import localtime
from genesys_assets.schema import INTERVAL_KPIS, KPI_MAXIMA, KPI_MEASURES
from genesys_assets.transforms import contracts, dimensions
from genesys_assets.transforms.kpis import (
    active_pairs,
    expected_grid,
    interval_kpis,
    pivot_measures,
    primary_totals,
    window_days,
)
from genesys_assets_tests.frames import BERLIN, NY, pairs, raw_rows


@pytest.mark.parametrize(
    ("tz", "day", "count"),
    [
        (NY, date(2026, 3, 8), 46),
        (NY, date(2026, 11, 1), 50),
        (NY, date(2026, 6, 1), 48),
        (BERLIN, date(2026, 3, 29), 46),
        (BERLIN, date(2026, 10, 25), 50),
    ],
)
def test_grid_has_every_local_interval(tz: str, day: date, count: int) -> None:
    grid = expected_grid(pairs(day, ("q1", "voice"), ("q1", "chat")), [day], tz, 30)
    assert grid.height == 2 * count
    voice = grid.filter(pl.col("media_type") == "voice")
    start, end = localtime.day_bounds(day, tz)
    assert voice["interval_start"].min() == start
    assert voice["interval_end"].max() == end
    assert (voice["interval_end"] - voice["interval_start"]).unique().to_list() == [timedelta(minutes=30)]


def test_channels_come_from_traffic_in_the_trailing_window() -> None:
    day = date(2026, 6, 28)
    traffic = pl.concat(
        [
            raw_rows(day, NY, [(("q1", "voice"), 10, "nOffered", {"count": 1})]),
            # 27 days before: still inside a 28-day window; 28 days before: outside it.
            raw_rows(day - timedelta(days=27), NY, [(("q1", "chat"), 3, "nOffered", {"count": 1})]),
            raw_rows(day - timedelta(days=28), NY, [(("q2", "email"), 3, "nOffered", {"count": 1})]),
            # Outbound work of q1 three days before: its own channel.
            raw_rows(
                day - timedelta(days=3), NY, [(("q1", "voice", "outbound"), 20, "tHandle", {"count": 1})]
            ),
            # Traffic after the day never counts for it.
            raw_rows(day + timedelta(days=1), NY, [(("q3", "voice"), 3, "nOffered", {"count": 1})]),
        ]
    )
    found = active_pairs(traffic, [day], 28)
    assert found.select("queue_id", "media_type", "direction").rows() == [
        ("q1", "chat", "inbound"),
        ("q1", "voice", "inbound"),
        ("q1", "voice", "outbound"),
    ]
    # A range is the days one by one: the day after also sees q3, and q1's chat is still in its window.
    both = active_pairs(traffic, [day, day + timedelta(days=1)], 28)
    assert both.filter(pl.col("local_date") == day).equals(found)
    assert both.filter(pl.col("local_date") == day + timedelta(days=1)).height == 3  # q1 chat drops out
    assert window_days([day, day + timedelta(days=1)], 3) == [
        day - timedelta(days=2),
        day - timedelta(days=1),
    ]


def test_interval_kpis_pivot_zeros_and_ratios() -> None:
    day = date(2026, 11, 1)
    voice = ("q1", "voice")
    raw = raw_rows(
        day,
        NY,
        [
            (voice, 2, "nOffered", {"count": 4}),
            (voice, 2, "tAnswered", {"count": 3, "sum": 30000}),
            (voice, 2, "tAbandon", {"count": 1, "sum": 5000}),
            (voice, 2, "tFlowOut", {"count": 1, "sum": 100}),
            (voice, 2, "tHandle", {"count": 2, "sum": 600000}),
            (voice, 2, "tTalkComplete", {"count": 2, "sum": 500000}),
            (voice, 2, "tHeldComplete", {"count": 1, "sum": 40000}),
            (voice, 2, "tAcw", {"count": 2, "sum": 60000}),
            (voice, 2, "tWait", {"count": 4, "sum": 35000, "max": 21000}),
            (voice, 2, "nOverSla", {"count": 1}),
            (voice, 2, "oServiceLevel", {"numerator": 2, "denominator": 4}),
            (voice, 2, "tShortAbandon", {"count": 1, "sum": 5000}),
            (voice, 2, "nTransferred", {"count": 2}),
            (voice, 2, "nBlindTransferred", {"count": 1}),
            (voice, 2, "nConsultTransferred", {"count": 1}),
            (voice, 2, "tAlert", {"count": 5, "sum": 50000}),
            (voice, 2, "tNotResponding", {"count": 2, "sum": 16000}),
            (voice, 2, "nConnected", {"count": 3}),
            (voice, 2, "nOutbound", {"count": 7}),
            (voice, 2, "nOutboundAttempted", {"count": 9}),
            (voice, 2, "nOutboundConnected", {"count": 6}),
            (voice, 2, "nOutboundAbandoned", {"count": 1}),
            # answered + abandoned above offered in one interval: kept as is
            (voice, 3, "tAnswered", {"count": 2, "sum": 1000}),
            (voice, 3, "nOffered", {"count": 1}),
        ],
    )
    kpis = interval_kpis(raw, pairs(day, voice, ("q1", "chat")), [day], NY, 30)
    assert kpis.schema == INTERVAL_KPIS
    assert kpis.height == 2 * 50
    row = kpis.filter(pl.col("media_type") == "voice").row(2, named=True)
    expected = {
        "offered": 4,
        "answered": 3,
        "answer_sum_ms": 30000,
        "abandoned": 1,
        "flow_out": 1,
        "handle_count": 2,
        "handle_sum_ms": 600000,
        "talk_sum_ms": 500000,
        "hold_sum_ms": 40000,
        "acw_sum_ms": 60000,
        "wait_count": 4,
        "wait_sum_ms": 35000,
        "sl_numerator": 2,
        "sl_denominator": 4,
        "short_abandoned": 1,
        "abandon_sum_ms": 5000,
        "flow_out_sum_ms": 100,
        "talk_count": 2,
        "hold_count": 1,
        "acw_count": 2,
        "transferred": 2,
        "blind_transferred": 1,
        "consult_transferred": 1,
        "alert_count": 5,
        "alert_sum_ms": 50000,
        "not_responding_count": 2,
        "not_responding_sum_ms": 16000,
        "connected": 3,
        "outbound": 7,
        "outbound_attempted": 9,
        "outbound_connected": 6,
        "outbound_abandoned": 1,
        "over_sla": 1,
    }
    assert {m: row[m] for m in KPI_MEASURES} == expected
    assert row["wait_max_ms"] == 21000
    # Each average divides by its own count: Avg Hold over the one held call, not over handled ones.
    assert row["avg_hold_s"] == pytest.approx(40.0)
    assert row["avg_talk_s"] == pytest.approx(250.0)
    assert row["avg_acw_s"] == pytest.approx(30.0)
    assert row["avg_wait_s"] == pytest.approx(8.75)
    assert row["avg_abandon_s"] == pytest.approx(5.0)
    assert row["aht_s"] == pytest.approx(300.0)
    assert row["asa_s"] == pytest.approx(10.0)  # tAnswered sum / count
    assert row["answer_rate"] == pytest.approx(0.75)
    assert row["abandon_rate"] == pytest.approx(0.25)
    assert row["service_level"] == pytest.approx(0.5)
    over = kpis.filter(pl.col("media_type") == "voice").row(3, named=True)
    assert over["answer_rate"] == pytest.approx(2.0) and over["abandon_rate"] == 0.0
    assert over["aht_s"] is None and over["service_level"] is None
    assert over["wait_max_ms"] is None  # no wait ended in the interval: its maximum is unknown, not 0
    quiet = kpis.filter(pl.col("media_type") == "chat")
    assert quiet.select(pl.sum_horizontal(KPI_MEASURES).sum()).item() == 0
    assert quiet.select(
        pl.col("aht_s", "asa_s", "answer_rate", "abandon_rate", "service_level").null_count()
    ).row(0) == (50, 50, 50, 50, 50)
    assert not kpis.select(pl.col(pl.Float64).is_nan().any()).row(0).count(True)


def test_channels_with_raw_rows_on_the_day_keep_their_data() -> None:
    day = date(2026, 3, 8)
    raw = raw_rows(
        day,
        NY,
        [
            (("deleted", "voice"), 0, "nOffered", {"count": 2}),
            (("q1", "email"), 45, "nOffered", {"count": 1}),
        ],
    )
    kpis = interval_kpis(raw, pairs(day, ("q1", "voice")), [day], NY, 30)
    counts = (
        kpis.group_by("queue_id", "media_type")
        .agg(pl.len(), pl.col("offered").sum())
        .sort("queue_id", "media_type")
    )
    assert counts.rows() == [("deleted", "voice", 46, 2), ("q1", "email", 46, 1), ("q1", "voice", 46, 0)]


def test_outbound_work_is_its_own_row_and_messaging_has_no_abandon_rate() -> None:
    day = date(2026, 6, 1)
    raw = raw_rows(
        day,
        NY,
        [
            (("q1", "voice"), 20, "nOffered", {"count": 2}),
            (("q1", "voice"), 20, "tHandle", {"count": 1, "sum": 200_000}),
            (("q1", "voice", "outbound"), 20, "tHandle", {"count": 3, "sum": 900_000}),
            (("q1", "message"), 20, "nOffered", {"count": 4}),
            (("q1", "message"), 20, "tAnswered", {"count": 3, "sum": 60_000}),
        ],
    )
    kpis = interval_kpis(raw, pairs(day), [day], NY, 30).filter(
        pl.col("offered") + pl.col("handle_count") > 0
    )
    rows = {(r["media_type"], r["direction"]): r for r in kpis.iter_rows(named=True)}
    assert rows[("voice", "inbound")]["aht_s"] == pytest.approx(200.0)  # outbound handling not blended in
    assert rows[("voice", "outbound")]["aht_s"] == pytest.approx(300.0)
    assert rows[("voice", "outbound")]["answer_rate"] is None  # nothing offered
    assert rows[("message", "inbound")]["abandon_rate"] is None  # undefined for web messaging, not 0
    assert rows[("voice", "inbound")]["abandon_rate"] == 0.0
    # Over several channels, the abandon rate leaves messaging out of both sums.
    ratios = primary_totals(kpis, ())[1]
    assert ratios["abandon_rate"] == 0.0 and ratios["answer_rate"] == pytest.approx(3 / 6)


def test_empty_raw_gives_zero_grid_and_other_days_ignored() -> None:
    day = date(2026, 6, 1)
    other = raw_rows(day + timedelta(days=1), NY, [(("q1", "voice"), 0, "nOffered", {"count": 9})])
    kpis = interval_kpis(other, pairs(day, ("q1", "voice")), [day], NY, 30)
    assert kpis.height == 48
    assert kpis["offered"].sum() == 0
    assert kpis["local_date"].unique().to_list() == [day]


def test_raw_rows_off_the_grid_are_kept() -> None:
    day = date(2026, 6, 1)
    raw = raw_rows(day, NY, [(("q1", "voice"), 0, "nOffered", {"count": 5})]).with_columns(
        pl.col("interval_start", "interval_end") + timedelta(minutes=15)
    )
    kpis = interval_kpis(raw, pairs(day, ("q1", "voice")), [day], NY, 30)
    assert kpis.height == 49
    assert kpis["offered"].sum() == 5
    assert kpis["interval_start"].is_sorted()


def test_partial_groups_stay_out_of_every_channel_and_are_counted() -> None:
    day = date(2026, 11, 2)
    voice = ("q1", "voice")
    raw = raw_rows(day, NY, [(voice, 4, "nOffered", {"count": 3}), (voice, 4, "nConnected", {"count": 2})])
    partial = raw_rows(day, NY, [(voice, 4, "nConnected", {"count": 5}), (voice, 5, "tIvr", {"count": 1})])
    raw = pl.concat([raw, partial.with_columns(direction=pl.lit(None, dtype=pl.String))])
    kpis = interval_kpis(raw, active_pairs(raw, [day], 28), [day], NY, 30)
    assert kpis.select("queue_id", "media_type", "direction").unique().rows() == [("q1", "voice", "inbound")]
    assert kpis["connected"].sum() == 2  # the partial group's 5 are not merged into inbound
    found = dimensions.partial_groups(raw)
    assert [(r.missing, r.metric, r.rows, r.count, r.feeds_kpi) for r in found] == [
        (("direction",), "nConnected", 1, 5, True),
        (("direction",), "tIvr", 1, 1, False),
    ]
    outcome = contracts.check_kpi_metrics_in_complete_groups(raw)
    assert (
        not outcome.passed
        and outcome.failing_rows == 1
        and "nConnected without direction" in outcome.description
    )
    assert contracts.check_kpi_metrics_in_complete_groups(raw.filter(pl.col("metric") != "nConnected")).passed


def test_unknown_media_types_are_kept_and_listed_and_secondary_media_stay_out_of_totals() -> None:
    day = date(2026, 11, 2)
    raw = raw_rows(
        day,
        NY,
        [
            (("q1", "chat"), 4, "nOffered", {"count": 10}),
            (("q1", "chat"), 4, "tAnswered", {"count": 8, "sum": 8000}),
            (("q1", "cobrowse"), 5, "nOffered", {"count": 3}),
            (("q1", "cobrowse"), 5, "tAnswered", {"count": 3, "sum": 300}),
            (("q1", "hologram"), 5, "nOffered", {"count": 1}),
            (("q1", "email"), 5, "nOffered", {"count": 4}),
        ],
    )
    assert dimensions.unknown_values(raw) == {"media_type": ["hologram"]}
    kpis = interval_kpis(raw, active_pairs(raw, [day], 28), [day], NY, 30)
    assert sorted(kpis["media_type"].unique()) == ["chat", "cobrowse", "email", "hologram"]
    by_media = kpis.group_by("media_type").agg(
        pl.col("offered").sum(), pl.col("abandon_rate").drop_nulls().len()
    )
    assert dict(by_media.select("media_type", "offered").rows()) == {
        "chat": 10,
        "cobrowse": 3,
        "email": 4,
        "hologram": 1,
    }
    # Email never counts an abandon in Genesys: its abandon rate is undefined, as message's is.
    assert dict(by_media.select("media_type", "abandon_rate").rows())["email"] == 0
    ratios = primary_totals(kpis, ())[1]
    assert ratios["answer_rate"] == pytest.approx(8 / 15)  # chat + email + hologram offered; no co-browse


def test_the_pivot_places_each_interval_s_metrics_as_grouping_them_would() -> None:
    day = date(2026, 3, 8)  # spring forward in New York: 46 half-hours
    voice, chat = ("q1", "voice"), ("q2", "message")
    rows = raw_rows(
        day,
        NY,
        [
            (voice, 3, "nOffered", {"count": 4}),
            (voice, 3, "tAnswered", {"count": 3, "sum": 9_000, "min": 1_000, "max": 5_000}),
            (voice, 3, "tWait", {"count": 4, "sum": 10_000, "min": 0, "max": 7_000}),
            (voice, 4, "nOffered", {"count": 1}),
            (voice, 4, "tWait", {"count": 1, "sum": None, "min": None, "max": None}),  # a null statistic
            (chat, 3, "nOffered", {"count": 2}),
            (chat, 3, "oServiceLevel", {"numerator": 1, "denominator": 2}),
        ],
    )
    placed = pivot_measures(rows)  # rows of one interval next to each other, as flatten reads them
    # q2's row between two of q1's interval 3: that interval is split up, so the rows are grouped instead.
    split_up = pl.concat([rows[0:1], rows[5:6], rows[1:5], rows[6:]])
    assert split_up.height == rows.height and split_up["queue_id"].to_list()[:3] == ["q1", "q2", "q1"]
    grouped = pivot_measures(split_up)
    keys = ["local_date", "queue_id", "media_type", "direction", "interval_start"]
    assert_frame_equal(placed.sort(keys), grouped.sort(keys), check_column_order=False)
    by_interval = {(row["queue_id"], row["interval_start"].hour): row for row in placed.iter_rows(named=True)}
    assert placed.height == 3 and set(placed.columns) >= {*KPI_MEASURES, *KPI_MAXIMA, "interval_end"}
    first = next(row for key, row in by_interval.items() if key[0] == "q1" and row["answered"] == 3)
    assert (first["offered"], first["answer_sum_ms"], first["wait_sum_ms"], first["wait_max_ms"]) == (
        4,
        9_000,
        10_000,
        7_000,
    )
    second = next(
        row for row in placed.iter_rows(named=True) if row["queue_id"] == "q1" and row["offered"] == 1
    )
    assert (second["answered"], second["wait_count"], second["wait_sum_ms"], second["wait_max_ms"]) == (
        0,
        1,
        0,
        None,
    )
    # A metric twice in one interval (the blocking raw checks reject it) is added up, whichever way.
    doubled = pl.concat([rows.head(1), rows])
    assert pivot_measures(doubled).filter(pl.col("answered") == 3)["offered"].to_list() == [8]


def test_an_interval_off_the_grid_is_kept_as_an_extra_row() -> None:
    day = date(2026, 6, 1)
    rows = raw_rows(day, NY, [(("q1", "voice"), 10, "nOffered", {"count": 2})])
    shifted = rows.with_columns(
        pl.col("interval_start") + timedelta(minutes=7), pl.col("interval_end") + timedelta(minutes=7)
    )
    table = interval_kpis(pl.concat([rows, shifted]), pairs(day, ("q1", "voice")), [day], NY, 30)
    assert table.height == 48 + 1 and table["offered"].sum() == 4
    assert table["interval_start"].is_sorted()
