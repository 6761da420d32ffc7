"""The Celery app and its thin tasks: ids in, a service call, errors mapped."""
