"""A review as the API shows it, whoever closed it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from betguard.api.schemas import ReviewOut
from betguard.models.domain.events import Resolution
from betguard.models.store.tables import Review
from betguard.services.reconcile_store import RESOLVED

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def closed(resolution: str) -> Review:
    return Review(id=1, bet_id=1, reason="reconciliation", opened_at=NOW, detail={},
                  resolved_at=NOW, resolution=resolution, operator="alice", note="checked")


def test_a_review_closed_with_its_reconciliation_difference_is_shown_as_resolved() -> None:
    assert ReviewOut.of(closed(RESOLVED)).resolution == "resolved"


@pytest.mark.parametrize("resolution", list(Resolution))
def test_a_review_closed_by_an_operator_shows_the_resolution(resolution: Resolution) -> None:
    assert ReviewOut.of(closed(resolution.value)).resolution is resolution


def test_an_open_review_has_no_resolution() -> None:
    review = closed("settled")
    review.resolved_at, review.resolution = None, None
    assert ReviewOut.of(review).resolution is None
