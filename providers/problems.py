"""What a provider's answer got wrong, said once: a log line and a count.

An adapter that meets something it cannot take from a provider -- an error code not in
its table, a row with an unknown, missing or malformed field, a row of a product it was
not asked about -- takes no decision on it and says so here: one WARNING naming the
provider, the call, the problem and the trace id of the call (when the dialect has one),
and one count on ``betguard_provider_answer_problems_total{provider, problem}`` through
the hook the composition root gives (``ProviderClientSettings.report_problem``). The
rest of the answer is still used; nothing is decided on what was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class Problem(StrEnum):
    UNKNOWN_CODE = "unknown_code"  # an error code the dialect's table lacks
    ROW_REFUSED = "row_refused"  # a history row that did not pass its model
    OTHER_PRODUCT = "other_product"  # a row of a product (data type) not asked for


# Called with (provider, problem) once per problem met.
ReportProblem = Callable[[str, Problem], None]


@dataclass(frozen=True)
class ProblemReporter:
    """One provider's reporter: logs each problem and counts it through ``hook``."""

    provider: str
    hook: ReportProblem | None = None

    def __call__(self, problem: Problem, call: str, what: str, *,
                 trace_id: str | None = None) -> None:
        traced = f" (trace_id {trace_id})" if trace_id else ""
        log.warning("provider %s: %s%s: %s: %s; no decision taken on it", self.provider, call,
                    traced, problem.value, what)
        if self.hook is not None:
            self.hook(self.provider, problem)
