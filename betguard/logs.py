"""Logs that say which bet they are about: JSON in production, text otherwise.

A task wraps its work in ``bet_context(ref)``; a filter on every handler copies
that bet (and the running Celery task's id) into each record logged meanwhile,
whoever logs it: the task, a service, the HTTP client's retry warnings. So a
line about a bet carries ``bet_ref`` and ``provider`` without every call site
having to pass them.

Celery sets up the worker's and beat's handlers itself; ``install`` hooks its
``after_setup_logger``/``after_setup_task_logger`` signals to add the filter and,
with ``BETGUARD_LOG_JSON``, a JSON formatter (one object per line, for the log
shipper). Text logs keep Celery's format and append ``[bet provider/ref]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from celery import current_task
from celery.signals import after_setup_logger, after_setup_task_logger
from pythonjsonlogger.json import JsonFormatter

from betguard.config.settings import get_settings

JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s"
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger",
                "processName": "process"}


@dataclass(frozen=True)
class LoggedBet:
    """The bet the log records of a block are about (see :func:`bet_context`)."""

    provider: str
    bet_ref: str

    @classmethod
    def parse(cls, ref: str) -> LoggedBet:
        """Read a task's ``provider/bet_ref`` label (bet references may hold slashes)."""
        provider, slash, bet_ref = ref.partition("/")
        return cls(provider, bet_ref) if slash else cls("", ref)

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.bet_ref}"


_current: ContextVar[LoggedBet | None] = ContextVar("betguard_bet", default=None)


@contextmanager
def bet_context(ref: str) -> Iterator[LoggedBet]:
    """Within this block, every log record is about the bet ``ref`` names.

    A context variable, so each thread of a threads pool has its own bet."""
    bet = LoggedBet.parse(ref)
    token = _current.set(bet if ref else None)
    try:
        yield bet
    finally:
        _current.reset(token)


def current_bet() -> LoggedBet | None:
    return _current.get()


class BetContextFilter(logging.Filter):
    """Copies the current bet and Celery task into each record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        bet = _current.get()
        if bet is not None:
            fields.setdefault("bet_ref", bet.bet_ref)
            fields.setdefault("provider", bet.provider)
        if current_task and current_task.request.id:  # a proxy: false outside a task
            fields.setdefault("task_id", current_task.request.id)
            fields.setdefault("task_name", current_task.name)
        return True


class TextWithBet(logging.Formatter):
    """Another formatter's text, with ``[bet provider/ref]`` after the first line
    unless the message names the bet already."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        bet_ref = getattr(record, "bet_ref", None)
        if not bet_ref:
            return text
        label = f"{getattr(record, 'provider', '')}/{bet_ref}"
        if label in text:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [bet {label}]{newline}{rest}"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(JSON_FORMAT, rename_fields=JSON_RENAMES)


def configure_handlers(logger: logging.Logger, *, json: bool) -> None:
    """Give each of ``logger``'s handlers the bet filter and a JSON or text formatter."""
    for handler in logger.handlers:
        if not any(isinstance(f, BetContextFilter) for f in handler.filters):
            handler.addFilter(BetContextFilter())
        if json:
            if not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(json_formatter())
        elif not isinstance(handler.formatter, TextWithBet):
            handler.setFormatter(TextWithBet(handler.formatter))


def configure_root_logging(*, json: bool, level: int = logging.INFO) -> None:
    """For processes Celery does not set up (the API, the CLI): one stderr handler."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    configure_handlers(root, json=json)


def _on_logger_setup(logger: logging.Logger | None = None, **_: Any) -> None:
    if logger is not None:
        configure_handlers(logger, json=get_settings().log_json)


def install() -> None:
    """Hook Celery's logging set-up (workers and beat). Safe to call more than once."""
    after_setup_logger.connect(_on_logger_setup, weak=False)
    after_setup_task_logger.connect(_on_logger_setup, weak=False)
