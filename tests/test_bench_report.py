"""The combined `make bench` report (tests/bench/report.py) says what each figure means
against its bar, and never passes off a part that could not measure."""

from tests.bench import live_poll, pages, report
from tests.bench.figures import figure

FACTS = [("CPU", "2 × Test CPU")]


def test_each_figure_sits_beside_its_bar_with_its_result_and_ratio():
    outcomes = {"pages": (60.0, 0, [
        figure("dashboard: p95 at 8 clients", "200.0 ms (14 queries)", "≤ 5x /healthz p95",
               True, ratio=2.5),
        figure("metrics: p95 at 8 clients", "900.0 ms (9 queries)", "≤ 5x /healthz p95",
               False, ratio=11.25, note="rendering the charts"),
    ])}

    text = report.render(FACTS, outcomes)

    assert ("| pages | dashboard: p95 at 8 clients | 200.0 ms (14 queries) | "
            "≤ 5x /healthz p95 | 2.5x | met |") in text
    assert "| 11.2x | **not met** |" in text
    assert "- Not met: pages: metrics: p95 at 8 clients (900.0 ms (9 queries)" in text
    assert "- pages, metrics: p95 at 8 clients: rendering the charts" in text
    assert "Every bar met." not in text
    assert "| CPU | 2 × Test CPU |" in text


def test_a_part_that_could_not_measure_is_reported_as_such():
    outcomes = {"pdf": (3.0, 2, None),
                "paging": (40.0, 0, [figure("declare → level 1 delivered, p95", "0.2 s",
                                            "< 2 s", True)])}

    text = report.render(FACTS, outcomes)

    assert "| pdf | could not measure (exit 2" in text
    assert "- Not met: pdf: not measured" in text
    assert "(not run)" in text  # ingest and pages were not asked for


def test_all_bars_met_says_so():
    outcomes = {"paging": (40.0, 0, [figure("p95", "0.2 s", "< 2 s", True)])}

    assert "Every bar met." in report.render(FACTS, outcomes)


def test_the_live_part_judges_the_unchanged_poll_against_healthz():
    def measured(p95, rate=100.0):
        return {"p50": p95 / 2, "p95": p95, "n": 1000, "errors": [], "rate": rate}

    results = {"/healthz": measured(0.010),
               "unchanged live update": measured(0.015, 80.0),
               "changed live update (sections rendered)": measured(0.200, 10.0)}
    rows = live_poll.headline(results, queries=4)
    unchanged = rows[1]
    assert unchanged["met"] is True and unchanged["ratio"] == 1.5
    assert "4 queries, 204" in unchanged["figure"] and "80 req/s" in unchanged["figure"]
    assert rows[2]["met"] is None  # the changed poll is context, not a bar

    results["unchanged live update"] = measured(0.025)
    assert live_poll.headline(results, queries=4)[1]["met"] is False  # 2.5x: not near
    results["unchanged live update"] = {**measured(0.012), "errors": [302]}
    assert live_poll.headline(results, queries=4)[1]["met"] is False  # not a 204


def _measured(p95, errors=()):
    return {"p50": p95 / 2, "p95": p95, "n": 200, "errors": list(errors)}


def test_the_pages_part_judges_each_page_against_the_logged_in_floor_of_its_round():
    floor = _measured(0.020)
    assert pages.page_verdict(_measured(0.100), floor) == (5.0, True)
    assert pages.page_verdict(_measured(0.101), floor)[1] is False
    assert pages.page_verdict(_measured(0.050, [500]), floor)[1] is False  # not a 200
    assert pages.floor_verdict(_measured(0.030), _measured(0.015)) == (2.0, True)
    assert pages.floor_verdict(_measured(0.031), _measured(0.015))[1] is False


def test_the_history_bar_uses_the_raw_ratio_and_says_when_drift_could_flip_it():
    # The page took 1.5x as long with 100k incidents, and so did /healthz (which reads
    # no incident): perhaps the machine was busier, but /healthz's tail is too noisy to
    # divide by, so the raw ratio decides and the verdict says it is unsure.
    g = pages.growth_verdict(_measured(0.200), _measured(0.300), _measured(0.020),
                             _measured(0.030), 14, 14)
    assert round(g["raw"], 2) == 1.5 and round(g["drift"], 2) == 1.5
    assert round(g["normalised"], 2) == 1.0
    assert g["met"] is False and g["unsure"] is True
    # And the other way: the machine got quieter for the 100k run.
    quieter = pages.growth_verdict(_measured(0.200), _measured(0.200), _measured(0.020),
                                   _measured(0.010), 14, 14)
    assert quieter["met"] is True and quieter["unsure"] is True

    slower = pages.growth_verdict(_measured(0.200), _measured(0.260), _measured(0.020),
                                  _measured(0.020), 14, 14)
    assert round(slower["normalised"], 2) == 1.3
    assert slower["met"] is False and slower["unsure"] is False
    steady = pages.growth_verdict(_measured(0.200), _measured(0.250), _measured(0.020),
                                  _measured(0.021), 14, 14)
    assert steady["met"] is True and steady["unsure"] is False  # 1.25x raw, 1.19x normalised
    more_queries = pages.growth_verdict(_measured(0.200), _measured(0.200), _measured(0.020),
                                        _measured(0.020), 14, 15)
    assert more_queries["met"] is False and more_queries["unsure"] is False


def test_the_pages_headline_gives_every_bar_of_issue_19():
    def round_(floor, anonymous, page):
        return {pages.FLOOR: _measured(floor), pages.ANONYMOUS: _measured(anonymous),
                "dashboard": _measured(page), "metrics": _measured(page * 2)}

    measured = {("10k", 8): round_(0.020, 0.015, 0.080),
                ("10k", 32): round_(0.080, 0.030, 0.300),
                ("100k", 8): round_(0.022, 0.016, 0.100)}
    counts = {"10k": {pages.FLOOR: 3, "dashboard": 14, "metrics": 9},
              "100k": {pages.FLOOR: 3, "dashboard": 14, "metrics": 10}}

    rows = {row["what"]: row for row in pages.headline(measured, counts)}

    assert rows["dashboard: p95 at 8 clients"]["met"] is True
    assert rows["dashboard: p95 at 8 clients"]["ratio"] == 4.0
    assert rows["metrics: p95 at 8 clients"]["met"] is False  # 8x
    assert rows["dashboard: p95 at 32 clients"]["ratio"] == 3.8  # against /healthz at 32
    assert rows["logged-in /healthz p95 over anonymous at 8 clients"]["met"] is True
    assert rows["logged-in /healthz p95 over anonymous at 32 clients"]["met"] is False
    dashboard = rows["dashboard: p95 with 100k incidents over 10k, 8 clients"]
    assert dashboard["met"] is True  # raw 1.25x, normalised 1.14x
    assert "raw 1.25x, normalised 1.14x" in dashboard["figure"]
    assert dashboard["bar"] == "≤ 1.25x, same queries"
    metrics = rows["metrics: p95 with 100k incidents over 10k, 8 clients"]
    assert metrics["met"] is False and "queries 10 vs 9" in metrics["figure"]
    assert rows["/healthz p95 at 8 clients, 100k run over 10k run"]["met"] is None
    assert all(row["met"] is not None for what, row in rows.items()
               if not what.startswith("/healthz"))  # every other row has a bar
