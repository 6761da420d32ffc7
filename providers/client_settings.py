"""What every provider adapter is built from: one value instead of a dozen keywords.

The composition root (``betguard.bootstrap``) builds one per configured provider from
its policy and the provider's secret; the registry hands it to the adapter the policy
names, which takes what its dialect uses and refuses ``options`` it does not know. It
is plain data, so the adapters need nothing from the configuration package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from betguard.providers.problems import ReportProblem


@dataclass(frozen=True)
class ProviderClientSettings:
    """How to reach one provider and how patiently to talk to it.

    ``throttle`` is called before every request (the shared rate limit), and
    ``fallback_urls`` are tried in order when ``base_url`` gives no answer.
    ``page_size`` is the rows one history call asks for (adapters with a feed);
    ``options`` are the adapter's own settings (e.g. an operator token).
    ``report_problem`` counts what an answer got wrong (``betguard.providers.problems``).
    """

    name: str
    base_url: str
    secret: str
    supports_batch: bool = False
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    attempts: int = 3
    throttle: Callable[[], None] | None = None
    fallback_urls: tuple[str, ...] = ()
    page_size: int = 1500
    options: Mapping[str, Any] = field(default_factory=dict)
    report_problem: ReportProblem | None = None
