"""feed cursors know when their copy last caught up with the provider (synced_at)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import betguard.models.store.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('feed_cursors', sa.Column(
        'synced_at', betguard.models.store.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('feed_cursors', 'synced_at')
