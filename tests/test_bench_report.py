"""The combined `make bench` report (tests/bench/report.py) says what each figure means
against its bar, and never passes off a part that could not measure."""

from tests.bench import live_poll, report
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
