"""The Slack app (issue 20): each incident's channel kept in step with the incident,
and `/incident`, the buttons and the "Add to timeline" shortcut acting through the
same services as the web.

- `outbox`: which Web API calls a timeline entry or a published update asks for,
  stored as delivery rows (called by the services, inside their transaction).
- `sync`: making those calls in order, each at most once, retried (a Celery task, the
  beat as safety net).
- `messages`: what the channel shows: topic, declaration with its buttons, posts,
  the declare modal (pure).
- `commands`: reading `/incident` text (pure).
- `inbound`: answering a verified slash command or interaction as the linked person.
"""
