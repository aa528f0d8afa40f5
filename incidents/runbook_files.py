"""Runbooks as Markdown files (handbook §4), for `manage.py runbooks_apply DIR`.

A file is a runbook: its title is the first heading (or `title:` in the front
matter), its body the Markdown after the front matter (stored as written, shown
sanitised like every runbook), and an optional front-matter block names the
services (name or slug) and alert names it is for:

    ---
    services: [api-gateway, web-app]
    alerts: [ServiceDown, HealthCheckFailed]
    ---
    # Runbook: Service Unavailable

Same rules as `oncall_apply`: checked with the admin's form, created or updated by
title only where different, all files in one transaction, any error refuses all.
"""

import difflib
import re
from pathlib import Path

import yaml
from django.db import transaction
from django.db.models import Q

from . import services
from .forms.runbooks import RunbookForm
from .models import Runbook, Service

FRONT_KEYS = {"title", "services", "alerts"}
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


class FilesRefused(Exception):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(f"{where}: {msg}" for where, msg in problems))


class _DryRun(Exception):
    pass


def spec_of(runbook):
    return {"title": runbook.title,
            "services": sorted(s.slug for s in runbook.services.all()),
            "alerts": runbook.alert_name_list(), "body": runbook.body}


def parse(path, text, problems):
    """(spec dict, services list) for one Markdown file, or None with problems noted."""
    lines = text.splitlines(keepends=True)
    front, body_start = {}, 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")),
                   None)
        if end is None:
            problems.append((f"{path}:1", "front matter opened with --- is never closed"))
            return None
        try:
            front = yaml.safe_load("".join(lines[1:end])) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark else 1
            problems.append((f"{path}:{line}", f"front matter is not valid YAML: "
                                               f"{getattr(exc, 'problem', exc)}"))
            return None
        if not isinstance(front, dict):
            problems.append((f"{path}:2", "front matter must be keys and values"))
            return None
        body_start = end + 1
        for key in front:
            if key not in FRONT_KEYS:
                line = next((i + 1 for i in range(1, end)
                             if lines[i].lstrip().startswith(f"{key}:")), 2)
                problems.append((f"{path}:{line}", f"unknown front-matter key {key!r} "
                                                   f"(expected {', '.join(sorted(FRONT_KEYS))})"))
    body = "".join(lines[body_start:]).strip()  # as the form stores it
    title = front.get("title")
    if title is None:
        title = next((m[1] for line in lines[body_start:] if (m := _HEADING.match(line))), None)
    if not title:
        problems.append((f"{path}:{body_start + 1}", "no title: start the file with a "
                                                     "# heading"))
        return None
    lists = {}
    for key in ("services", "alerts"):
        value = front.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append((f"{path}:1", f"{key} must be a list of names"))
            return None
        lists[key] = [v.strip() for v in value if v.strip()]
    return {"title": str(title).strip(), "services": lists["services"],
            "alerts": lists["alerts"], "body": body}


def apply_dir(directory, *, by, dry_run=False):
    """Apply every *.md file in `directory`; return (changes, text of the diff)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FilesRefused([(str(directory), "not a directory")])
    problems, changes, out = [], [], []
    files = sorted(directory.glob("*.md"))
    if not files:
        raise FilesRefused([(str(directory), "no *.md files")])
    try:
        with transaction.atomic():
            seen = {}
            for path in files:
                spec = parse(path, path.read_text(encoding="utf-8"), problems)
                if spec is None:
                    continue
                if spec["title"] in seen:
                    problems.append((str(path), f"title {spec['title']!r} is also "
                                                f"{seen[spec['title']]}'s"))
                    continue
                seen[spec["title"]] = path.name
                _apply_one(path, spec, by, problems, changes, out)
            if problems:
                raise FilesRefused(problems)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes, "\n".join(out) if out else "No changes."


def _apply_one(path, spec, by, problems, changes, out):
    wanted = []
    for name in spec["services"]:
        service = Service.objects.filter(Q(slug=name) | Q(name=name)).first()
        if service is None:
            problems.append((str(path), f"unknown service {name!r}"))
        else:
            wanted.append(service)
    if len(wanted) != len(spec["services"]):
        return
    existing = Runbook.objects.prefetch_related("services").filter(title=spec["title"]).first()
    after = {**spec, "services": sorted(s.slug for s in wanted)}
    before = spec_of(existing) if existing else None
    if before == after:
        return
    form = RunbookForm({"title": spec["title"], "body": spec["body"],
                        "services": [s.pk for s in wanted],
                        "alert_names": "\n".join(spec["alerts"])}, instance=existing)
    if not form.is_valid():
        for field, errors in form.errors.items():
            problems.extend((str(path), f"{field}: {e}") for e in errors)
        return
    services.save_runbook(existing, form=form, by=by)
    changes.append(("+" if existing is None else "~", spec["title"]))
    if existing is None:
        out.append(f"+ runbook {spec['title']!r} ({path.name}): services "
                   f"{', '.join(after['services']) or '-'}; alerts "
                   f"{', '.join(spec['alerts']) or '-'}; {len(spec['body'].splitlines())} "
                   "lines")
        return
    out.append(f"~ runbook {spec['title']!r} ({path.name})")
    for key in ("services", "alerts"):
        if before[key] != after[key]:
            out.append(f"    {key}: {', '.join(before[key]) or '-'} → "
                       f"{', '.join(after[key]) or '-'}")
    if before["body"] != after["body"]:
        diff = difflib.unified_diff(before["body"].splitlines(), after["body"].splitlines(),
                                    lineterm="", n=1)
        out.extend("    " + line for line in list(diff)[2:])
