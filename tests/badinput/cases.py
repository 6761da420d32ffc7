"""What every corpus of hostile input shares: how one case becomes a test."""

from __future__ import annotations

import pytest


def case_param(case: object, case_id: str, bug: str | None = None) -> object:
    """``case`` as one parameter of a test, named ``case_id``. A case whose refusal is
    not built yet names its ``bug``: the test is then a strict xfail, so it fails the
    day the bug is fixed and the mark is left behind."""
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(case, id=case_id, marks=marks)
