"""bulk re-checks of a provider's bets, and game pauses a person holds

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from betguard.models.store.types import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('game_pauses', sa.Column('held_by', sa.String(length=64), nullable=True))
    op.create_table(
        'bulk_jobs',
        sa.Column('id', BIG_ID, primary_key=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('provider', sa.String(length=64), nullable=False),
        sa.Column('placed_from', UTCDateTime(timezone=True), nullable=False),
        sa.Column('placed_to', UTCDateTime(timezone=True), nullable=False),
        sa.Column('requested_by', sa.String(length=64), nullable=False),
        sa.Column('requested_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('in_flight', sa.Integer(), nullable=False),
        sa.Column('last_slot_at', UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'bulk_job_bets',
        sa.Column('job_id', BIG_ID, sa.ForeignKey('bulk_jobs.id'), primary_key=True),
        sa.Column('bet_id', BIG_ID, sa.ForeignKey('bets.id'), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table('bulk_job_bets')
    op.drop_table('bulk_jobs')
    with op.batch_alter_table('game_pauses') as batch:
        batch.drop_column('held_by')
