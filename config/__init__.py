"""Configuration: one settings object, per-provider policies, Celery configuration."""
