"""Reports: post-incident reviews (`pir`), weekly on-call handoffs (`handoffs`), metrics.

Each feature word names its module in every package: `services/{pir,handoffs}.py` (every
write), `views/{pir,handoffs,metrics}.py`, `tables/` and `filters/` `{handoffs,metrics}.py`,
`admin/{pir,action_items,handoffs}.py`, tests in `tests/reports/test_<feature>*.py`.
Engines named for their job: `shifts` (a schedule's shifts), `activity` (what a shift
saw), `metrics/` (KPI definitions, queries, charts), `reminders` (the beat's reminders),
`pdf`, `incident_report` (Markdown). `demo/` is the `seed_demo` seeder only.
"""
