"""the operations console: accounts, sessions, the access log, four-eyes proposals

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from betguard.models.store.types import Money, UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'accounts',
        sa.Column('id', BIG_ID, primary_key=True),
        sa.Column('name', sa.String(length=64), nullable=False, unique=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('password_changed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
        sa.Column('locked_until', UTCDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        'console_sessions',
        sa.Column('token_sha256', sa.String(length=64), primary_key=True),
        sa.Column('account_id', BIG_ID, sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_console_sessions_account_id', 'console_sessions', ['account_id'])
    op.create_table(
        'access_events',
        sa.Column('id', BIG_ID, primary_key=True),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
    )
    op.create_index('ix_access_events_at', 'access_events', ['at'])
    op.create_index('ix_access_events_account', 'access_events', ['account', 'at'])
    op.create_index('ix_access_events_address', 'access_events', ['address', 'at'])
    op.create_table(
        'proposals',
        sa.Column('id', BIG_ID, primary_key=True),
        sa.Column('bet_id', BIG_ID, sa.ForeignKey('bets.id'), nullable=False),
        sa.Column('resolution', sa.String(length=20), nullable=False),
        sa.Column('amount', Money(precision=18, scale=4), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('proposed_by', sa.String(length=64), nullable=False),
        sa.Column('proposed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
    )
    op.create_index('ix_proposals_bet_id', 'proposals', ['bet_id'])
    op.create_index('ix_proposals_state', 'proposals', ['state', 'proposed_at'])
    op.create_index('uq_proposals_one_open_per_bet', 'proposals', ['bet_id'], unique=True,
                    postgresql_where=sa.text("state = 'open'"),
                    sqlite_where=sa.text("state = 'open'"))


def downgrade() -> None:
    op.drop_table('proposals')
    op.drop_table('access_events')
    op.drop_table('console_sessions')
    op.drop_table('accounts')
