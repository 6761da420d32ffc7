"""The workers' Celery target: ``celery -A betguard.tasks.app worker`` (and ``beat``).

The app itself is the composition root's (``betguard.messaging.app``), shared with every
process that publishes; a worker imports the task modules of its ``include`` at start.
"""

from __future__ import annotations

from betguard.messaging.app import app

__all__ = ["app"]
