"""On-call as code: reading the values of a parsed file, noting each problem with its
line (the base of the reader)."""

import re
from datetime import datetime

from .specs import Change, YamlMap, YamlSeq, line_of


class FileValues:
    """Readers of single values; each notes a problem (line, message) and returns a
    default rather than raising, so one run reports every problem in the file."""

    problems: list
    users: dict
    plan: object

    def problem(self, line, message):
        self.problems.append((line, message))

    # small readers of values -------------------------------------------------------------

    def check_keys(self, node, allowed, what):
        if not isinstance(node, YamlMap):
            self.problem(line_of(node), f"{what} must be a mapping of keys to values")
            return False
        for key in node:
            if key not in allowed:
                self.problem(node.lines[key], f"{what}: unknown key {key!r} (expected "
                                              f"{', '.join(sorted(allowed))})")
        return True

    def text(self, node, key, what, *, required=False, default=""):
        value = node.get(key)
        if value is None:
            if required:
                self.problem(node.line, f"{what}: {key!r} is required")
            return default
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.problem(node.lines[key], f"{what}: {key!r} must be text")
            return default
        return str(value).strip()

    def duration(self, node, key, what, default):
        value = node.get(key)
        if value is None:
            return default
        match = re.fullmatch(r"(\d{1,6})\s*(m|min|h)?", str(value).strip())
        if isinstance(value, bool) or not match:
            self.problem(node.lines[key], f"{what}: {key} {value!r} is not a duration "
                                          "such as 5m or 1h")
            return default
        number = int(match[1]) * (60 if match[2] == "h" else 1)
        if not 0 < number <= 24 * 60:
            self.problem(node.lines[key], f"{what}: {key} must be 1 minute to 24 hours")
            return default
        return number

    def clock(self, node, key, what, default):
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(node.lines[key], f"{what}: {key} must be a quoted time such as "
                                          '"09:00"')
            return default
        try:
            return datetime.strptime(value.strip(), "%H:%M").time()
        except ValueError:
            self.problem(node.lines[key], f"{what}: {key} {value!r} is not a time HH:MM")
            return default

    def names(self, node, key, what):
        value = node.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, node.lines[key])]
        if not isinstance(value, YamlSeq) or not all(isinstance(v, str) for v in value):
            self.problem(node.lines[key], f"{what}: {key} must be a list of names")
            return []
        return list(zip(value, value.lines, strict=True))

    def user(self, name, line, what):
        user = self.users.get(name)
        if user is None:
            self.problem(line, f"{what}: unknown user {name!r}")
        elif not user.is_active:
            self.problem(line, f"{what}: user {name!r} is not active")
            user = None
        return user

    def form_errors(self, form, node, what, keys=None):
        for name, errors in form.errors.items():
            key = (keys or {}).get(name, name)
            head, _, tail = key.partition(".")
            line = line_of(node, head)
            if tail and isinstance(node.get(head), YamlMap):
                line = line_of(node[head], tail)
            label = "" if name == "__all__" else f"{key}: "
            for error in errors:
                self.problem(line, f"{what}: {label}{error}")

    def record(self, kind, name, before, after):
        if before is None:
            self.plan.changes.append(Change("+", kind, name, None, after))
        elif before != after:
            self.plan.changes.append(Change("~", kind, name, before, after))

    def list_of(self, doc, key):
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, YamlSeq):
            self.problem(doc.lines[key], f"{key} must be a list")
            return []
        seen = {}
        out = []
        for item in value:
            if isinstance(item, YamlMap) and isinstance(item.get("name"), str):
                if item["name"] in seen:
                    self.problem(item.lines["name"], f"{key}: {item['name']!r} is also "
                                                     f"defined on line {seen[item['name']]}")
                    continue
                seen[item["name"]] = item.lines["name"]
            out.append(item)
        return out
