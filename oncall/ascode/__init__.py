"""On-call as code: teams, schedules and escalation policies read from and written to
the handbook's YAML (§2.1, plus `teams:`), for `oncall_apply` and `oncall_export`.
`specs` holds the file side (YAML with lines, each object's canonical spec, the
export); `reader` applies a file. This package only re-exports."""

from .reader import apply_text
from .specs import Change, FileRefused, Plan, dump, export_document

__all__ = ["Change", "FileRefused", "Plan", "apply_text", "dump", "export_document"]
