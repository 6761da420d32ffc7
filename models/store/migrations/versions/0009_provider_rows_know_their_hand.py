"""provider rows know where they stand in their round (hand) and which call brought them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('provider_rows', sa.Column('hand', sa.String(length=12), nullable=True))
    op.add_column('provider_rows', sa.Column('trace_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('provider_rows', 'trace_id')
    op.drop_column('provider_rows', 'hand')
