"""Celery as betguard uses it: the app every process shares, the scheduler that publishes
wake-ups through it, and the Redis transport it uses.

Part of the composition root, with ``betguard.bootstrap``: the workers' entry point
(``betguard.tasks``), the API and the ops commands build on it, and it imports none of
them. The tasks are registered on the app only in a worker (the app's ``include``).
"""
