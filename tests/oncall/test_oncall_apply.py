"""On-call as code: the handbook's §2.1 YAML applied, exported, re-applied (issue 21)."""

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from oncall import ascode, calendar, rotation, services
from oncall.models import EscalationPolicy, Override, Schedule, Team

HANDBOOK = Path(__file__).with_name("on-call-schedules.yaml")
PEOPLE = ["alice", "bob", "carol", "dana", "erin", "frank", "grace", "vp-engineering"]
# Wednesday before the 2027 DST change (March 14) in New York.
NOW = datetime(2027, 3, 3, 12, 0, tzinfo=UTC)
CLI = services.CommandLine("test")

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {n: get_user_model().objects.create(username=n) for n in PEOPLE}


def apply(text=None, **kwargs):
    kwargs.setdefault("now", NOW)
    return ascode.apply_text(HANDBOOK.read_text() if text is None else text,
                             path="on-call.yaml", by=CLI, **kwargs)


def snapshot():
    return ascode.dump(ascode.export_document())


def test_handbook_file_makes_the_schedules_teams_and_four_level_policy(people):
    plan = apply()
    assert [c.op for c in plan.changes] == ["+"] * 7
    assert set(Schedule.objects.values_list("name", flat=True)) == {
        "Primary On-Call", "Secondary On-Call", "Engineering Manager On-Call"}
    primary = Schedule.objects.get(name="Primary On-Call")
    assert primary.team.name == "platform-team"
    assert primary.member_ids() == [people[n].pk for n in ("alice", "bob", "carol")]
    assert primary.escalation_timeout_minutes == 5
    assert Schedule.objects.get(name="Secondary On-Call").escalation_timeout_minutes == 15
    # The third schedule lists its members under rotation:, as the handbook writes it.
    managers = Schedule.objects.get(name="Engineering Manager On-Call")
    assert managers.member_ids() == [people["frank"].pk, people["grace"].pk]
    assert Team.objects.get(name="platform-team-leads").lead == people["dana"]
    policy = EscalationPolicy.objects.get(name="Production Incidents")
    levels = list(policy.levels.order_by("position"))
    assert [lv.timeout_minutes for lv in levels] == [5, 10, 15, 30]
    assert [lv.schedule.name if lv.schedule else None for lv in levels] == [
        "Primary On-Call", "Secondary On-Call", "Engineering Manager On-Call", None]
    assert list(levels[3].users.values_list("username", flat=True)) == ["vp-engineering"]


def test_handoffs_stay_monday_0900_new_york_across_the_2027_dst_change(people):
    apply()
    primary = Schedule.objects.get(name="Primary On-Call")
    assert primary.starts_on.isoformat() == "2027-03-01"  # the handoff in progress
    rot = primary.as_rotation(primary.member_ids())
    after = datetime(2027, 3, 1, 15, tzinfo=UTC)
    got = rotation.handoffs(rot, after, 3)
    # 09:00 EST = 14:00 UTC before March 14, 09:00 EDT = 13:00 UTC after it.
    assert got == [datetime(2027, 3, 8, 14, tzinfo=UTC), datetime(2027, 3, 15, 13, tzinfo=UTC),
                   datetime(2027, 3, 22, 13, tzinfo=UTC)]
    assert primary.on_call_at(datetime(2027, 3, 15, 12, 59, tzinfo=UTC)) == people["bob"].pk
    assert primary.on_call_at(datetime(2027, 3, 15, 13, 0, tzinfo=UTC)) == people["carol"].pk


def test_applying_twice_changes_nothing_and_says_so(people, capsys):
    apply()
    before = snapshot()
    plan = apply(now=NOW + timedelta(days=9))
    assert plan.changes == []
    assert plan.text() == "No changes."
    assert snapshot() == before
    assert not Override.objects.exists()


def test_dry_run_prints_the_diff_and_changes_nothing(people, tmp_path):
    path = tmp_path / "on-call.yaml"
    path.write_text(HANDBOOK.read_text())
    out = StringIO()
    call_command("oncall_apply", str(path), "--dry-run", stdout=out)
    assert "+ schedule 'Primary On-Call'" in out.getvalue()
    assert "Dry run: nothing was changed." in out.getvalue()
    assert not Schedule.objects.exists() and not Team.objects.exists()
    assert not EscalationPolicy.objects.exists()
    apply()
    changed = HANDBOOK.read_text().replace("escalation_timeout: 15m", "escalation_timeout: 20m")
    path.write_text(changed)
    out = StringIO()
    call_command("oncall_apply", str(path), "--dry-run", stdout=out)
    assert "~ schedule 'Secondary On-Call'" in out.getvalue()
    assert "-escalation_timeout: 15m" in out.getvalue()
    assert "+escalation_timeout: 20m" in out.getvalue()
    assert Schedule.objects.get(name="Secondary On-Call").escalation_timeout_minutes == 15


def _line_of(text, needle):
    return text.splitlines().index(next(x for x in text.splitlines() if needle in x)) + 1


@pytest.mark.parametrize(("old", "new", "message"), [
    ("members: [alice, bob, carol]", "members: [alice, bob, nobody]", "unknown user 'nobody'"),
    ("timezone: America/New_York", "timezone: America/Nowhere",
     "unknown time zone 'America/Nowhere'"),
    ("schedule: Secondary On-Call", "schedule: Tertiary On-Call",
     "no schedule named 'Tertiary On-Call'"),
    ("- vp-engineering", "- vp-nobody", "unknown user 'vp-nobody'"),
    ("escalation_timeout: 5m", "escalation_timeout: soon", "not a duration"),
    ("handoff_day: monday", "handoff_day: funday", "not a weekday name"),
    ("    escalation_timeout: 15m", "    escalation_timout: 15m",
     "unknown key 'escalation_timout'"),
])
def test_a_bad_file_is_refused_whole_naming_the_line(people, tmp_path, old, new, message):
    text = HANDBOOK.read_text().replace(old, new, 1)
    assert text != HANDBOOK.read_text()
    line = _line_of(text, new.strip())
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CommandError) as refused:
        call_command("oncall_apply", str(path), stdout=StringIO())
    assert f"{path}:{line}: " in str(refused.value)
    assert message in str(refused.value)
    assert "Nothing was changed." in str(refused.value)
    # Teams come first in the file and were valid: they were rolled back too.
    assert not Team.objects.exists() and not Schedule.objects.exists()
    assert not EscalationPolicy.objects.exists()


def test_a_bad_change_leaves_the_applied_set_up_as_it_was(people):
    apply()
    before = snapshot()
    text = HANDBOOK.read_text().replace("escalation_timeout: 15m", "escalation_timeout: 20m")
    text = text.replace("timeout: 30m", "timeout: 0m")
    with pytest.raises(ascode.FileRefused) as refused:
        apply(text)
    assert refused.value.problems[0][0] == _line_of(text, "timeout: 0m")
    assert snapshot() == before


def test_broken_yaml_is_refused_with_its_line(people):
    with pytest.raises(ascode.FileRefused) as refused:
        apply("schedules:\n  - name: A\n    rotation: [unclosed\n")
    assert refused.value.problems[0][0] is not None


def test_export_then_apply_changes_nothing(people, tmp_path):
    apply()
    out = StringIO()
    call_command("oncall_export", stdout=out)
    assert out.getvalue().startswith("teams:")
    path = tmp_path / "export.yaml"
    path.write_text(out.getvalue())
    result = StringIO()
    call_command("oncall_apply", str(path), stdout=result)
    assert result.getvalue().strip() == "No changes."
    # And the export applied to an empty database makes the same set-up.
    Override.objects.all().delete()
    EscalationPolicy.objects.all().delete()
    Schedule.objects.all().delete()
    Team.objects.all().delete()
    apply(out.getvalue())
    assert snapshot() == out.getvalue()


def test_unmentioned_objects_stay_unless_pruned(people):
    apply()
    extra = services.create_schedule(members=[people["alice"]], by=CLI, name="Database On-Call",
                                     starts_on=NOW.date())
    text = HANDBOOK.read_text()
    assert apply(text).changes == []
    assert Schedule.objects.filter(pk=extra.pk).exists()
    plan = apply(text, prune=True)
    assert [(c.op, c.name) for c in plan.changes] == [("-", "Database On-Call")]
    assert not Schedule.objects.filter(pk=extra.pk).exists()
    # Pruning the policy's schedules by leaving them out removes the policy first.
    only_teams = text[:text.index("schedules:")]
    apply(only_teams, prune=True)
    assert not Schedule.objects.exists() and not EscalationPolicy.objects.exists()
    assert Team.objects.count() == 3


def test_a_team_leaver_leaves_future_shifts_only(people):
    apply()
    primary = Schedule.objects.get(name="Primary On-Call")
    # Week of March 8: bob's turn (alice had March 1).
    during = datetime(2027, 3, 10, 12, tzinfo=UTC)
    assert primary.on_call_at(during) == people["bob"].pk
    text = HANDBOOK.read_text().replace("members: [alice, bob, carol]",
                                        "members: [alice, carol, dana]")
    plan = apply(text, now=during)
    assert ("~", "platform-team") in [(c.op, c.name) for c in plan.changes]
    primary.refresh_from_db()
    # Kept order, leaver dropped, newcomer appended.
    assert primary.member_ids() == [people[n].pk for n in ("alice", "carol", "dana")]
    # The handoff in progress keeps its shift: bob until Monday 09:00 New York.
    assert primary.on_call_at(during + timedelta(hours=1)) == people["bob"].pk
    assert primary.on_call_at(datetime(2027, 3, 15, 12, 59, tzinfo=UTC)) == people["bob"].pk
    later = primary.shifts(datetime(2027, 3, 15, 13, tzinfo=UTC),
                           datetime(2027, 5, 1, tzinfo=UTC))
    assert later and people["bob"].pk not in {s.member for s in later}
    assert people["dana"].pk in {s.member for s in later}
    # Re-applying the same file changes nothing more.
    assert apply(text, now=during).changes == []


def test_members_may_be_usernames(people):
    text = """
schedules:
  - name: Solo
    rotation: {type: daily, start_time: "08:30", timezone: Europe/Berlin, start_date: "2027-01-04"}
    members: [alice, bob]
    coverage:
      - type: business
        days: [monday, tuesday]
        start: "09:00"
        end: "17:00"
"""
    apply(text)
    solo = Schedule.objects.get(name="Solo")
    assert solo.team is None and solo.member_ids() == [people["alice"].pk, people["bob"].pk]
    assert solo.coverage == "business" and solo.business_days == [0, 1]
    assert apply(snapshot()).changes == []


def test_a_member_change_keeps_past_turns_and_the_turn_in_progress(people):
    apply()
    primary = Schedule.objects.get(name="Primary On-Call")
    week = [datetime(2027, 3, 2, tzinfo=UTC) + timedelta(weeks=i) for i in range(8)]
    past_and_now = [primary.on_call_at(at) for at in week[:2]]
    assert past_and_now == [people["alice"].pk, people["bob"].pk]
    # bob leaves mid-turn (March 10), frank joins: newcomer appended.
    text = HANDBOOK.read_text().replace("members: [alice, bob, carol]",
                                        "members: [alice, carol, frank]")
    apply(text, now=datetime(2027, 3, 10, 12, tzinfo=UTC))
    primary.refresh_from_db()
    got = [primary.on_call_at(at) for at in week]
    ids = {v: k for k, v in ((n, people[n].pk) for n in PEOPLE)}
    # The past turn (alice) and the turn in progress (bob) are kept; from the next
    # handoff on, bob is gone and the rotation goes on after him: carol, frank, alice...
    assert [ids[g] for g in got] == ["alice", "bob", "carol", "frank", "alice", "carol",
                                     "frank", "alice"]
    assert not Override.objects.exists()
    # The calendar (computed from the loaded rows) agrees, and names bob.
    loaded = calendar.load_timeline(Schedule.objects.filter(pk=primary.pk), week[0],
                                    week[3])[0]
    shifts = calendar.timeline(loaded, week[0], week[3])
    assert [ids[s.member] for s in shifts] == ["alice", "bob", "carol", "frank"]
    assert calendar.people(loaded)[people["bob"].pk] == people["bob"]


def test_changing_the_handoff_time_keeps_the_turn_in_progress(people):
    apply()
    during = datetime(2027, 3, 10, 12, tzinfo=UTC)
    text = HANDBOOK.read_text().replace('start_time: "09:00"', 'start_time: "10:00"', 1)
    text = text.replace("      handoff_day: monday\n", "      handoff_day: wednesday\n", 1)
    apply(text, now=during)
    primary = Schedule.objects.get(name="Primary On-Call")
    # The new rotation would hand over on Wednesday 10:00; bob keeps his turn to Monday.
    assert primary.on_call_at(datetime(2027, 3, 15, 12, 59, tzinfo=UTC)) == people["bob"].pk
    assert Override.objects.filter(user=people["bob"]).count() == 1


def test_applied_changes_are_logged_like_web_changes_and_a_dry_run_logs_none(people, caplog):
    with caplog.at_level("INFO", logger="oncall"):
        apply(dry_run=True)
        with pytest.raises(ascode.FileRefused):
            apply(HANDBOOK.read_text().replace("- vp-engineering", "- nobody"))
        assert not [r for r in caplog.records if " by " in r.getMessage()]
        apply()
    messages = [r.getMessage() for r in caplog.records]
    assert "schedule 'Primary On-Call' created by manage.py test" in messages
    assert "team 'platform-team' created by manage.py test" in messages


def test_the_team_is_shown_on_schedule_and_policy_pages_and_in_the_admin(people, manager,
                                                                         client):
    apply()
    client.force_login(manager)
    primary = Schedule.objects.get(name="Primary On-Call")
    page = client.get(primary.get_absolute_url()).content.decode()
    assert "platform-team" in page and "members follow the team" in page
    policy = EscalationPolicy.objects.get(name="Production Incidents")
    assert "(team platform-team-leads)" in client.get(policy.get_absolute_url()).content.decode()
    admin = client.get("/admin/oncall/team/").content.decode()
    assert "platform-team-leads" in admin and "dana, erin" in admin
    team = Team.objects.get(name="platform-team")
    assert client.get(f"/admin/oncall/team/{team.pk}/change/").status_code == 200
    assert "platform-team" in client.get("/admin/oncall/schedule/").content.decode()


def test_the_schedule_form_takes_members_from_a_team(people, manager, client):
    apply()
    client.force_login(manager)
    team = Team.objects.get(name="engineering-managers")
    response = client.post("/oncall/schedules/new/", {
        "name": "Weekend managers", "rotation_kind": "weekly", "timezone": "UTC",
        "handoff_day": 5, "handoff_time": "10:00", "starts_on": "2027-03-06",
        "coverage": "24x7", "escalation_timeout_minutes": 5, "members": "",
        "team": team.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    made = Schedule.objects.get(name="Weekend managers")
    assert made.team == team and made.member_ids() == [people["frank"].pk, people["grace"].pk]
