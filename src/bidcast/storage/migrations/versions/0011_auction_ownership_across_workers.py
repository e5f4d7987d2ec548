"""auction ownership across workers: one lease row per auction (owner, fencing epoch, expiry)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'auction_leases',
        sa.Column('auction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('auctions.id', ondelete='CASCADE'), nullable=False),
        sa.Column('owner', sa.String(120), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False, server_default='1'),
        sa.Column('expires_at_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('auction_id'))
    op.create_index('ix_auction_leases_owner', 'auction_leases', ['owner'])


def downgrade() -> None:
    op.drop_index('ix_auction_leases_owner', table_name='auction_leases')
    op.drop_table('auction_leases')
