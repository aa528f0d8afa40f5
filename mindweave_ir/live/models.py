from django.db import models


class LiveTopic(models.Model):
    """How many times a topic (`incident:<pk>`, `incidents`) has changed.

    Kept in the database, not the cache: the web processes, the Celery worker and
    the paging engine all write, and the embedded default's cache is per process.
    A missing row is version 0."""

    key = models.CharField(max_length=100, primary_key=True)
    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField()

    def __str__(self):
        return f"{self.key} v{self.version}"
