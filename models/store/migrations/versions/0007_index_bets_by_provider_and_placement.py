"""index bets by provider and placement (reconciliation reads windows of one provider)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 00:05:00
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_bets_provider_placed', 'bets', ['provider', 'placed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_bets_provider_placed', table_name='bets')
