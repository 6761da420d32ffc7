"""bets know the provider's name of their round (round_ref), so several bets of one round
are each refunded under their own reference

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('bets', sa.Column('round_ref', sa.String(length=128), nullable=True))
    # Every bet so far is a round of its own: the provider named it by its bet_ref.
    op.execute("UPDATE bets SET round_ref = bet_ref")
    with op.batch_alter_table('bets') as batch:
        batch.alter_column('round_ref', existing_type=sa.String(length=128), nullable=False)
    op.create_index('ix_bets_provider_round', 'bets', ['provider', 'round_ref'])


def downgrade() -> None:
    op.drop_index('ix_bets_provider_round', table_name='bets')
    op.drop_column('bets', 'round_ref')
