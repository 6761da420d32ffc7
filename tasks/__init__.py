"""The workers' entry point: thin tasks (ids in, a service call, errors mapped) on the
Celery app of ``betguard.messaging``. Nothing imports this package but its own modules."""
