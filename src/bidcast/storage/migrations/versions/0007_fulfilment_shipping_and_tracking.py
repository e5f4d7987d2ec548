"""fulfilment shipping and tracking: carrier tracking events, seller payouts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'tracking_events',
        sa.Column('id', BigId, nullable=False),
        sa.Column('carrier', sa.String(40), nullable=False),
        sa.Column('carrier_event_id', sa.String(100), nullable=False),
        sa.Column('tracking_number', sa.String(60), nullable=False),
        sa.Column('event', sa.String(20), nullable=False),
        sa.Column('detail', sa.String(300), nullable=True),
        sa.Column('occurred_at', sa.DateTime(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('carrier', 'carrier_event_id', name='uq_tracking_events_carrier_event'))
    op.create_index('ix_tracking_events_parcel', 'tracking_events', ['carrier', 'tracking_number'])
    op.create_table(
        'payouts',
        sa.Column('id', BigId, nullable=False),
        sa.Column('shop_id', BigId, sa.ForeignKey('shops.id'), nullable=False),
        sa.Column('requested_by', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('idempotency_key', sa.String(64), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('status', sa.String(12), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'idempotency_key', name='uq_payouts_shop_key'))
    op.create_index('ix_payouts_shop_id', 'payouts', ['shop_id'])
    op.create_index('ix_orders_carrier_tracking', 'orders', ['carrier', 'tracking_number'])


def downgrade() -> None:
    op.drop_index('ix_orders_carrier_tracking', table_name='orders')
    op.drop_index('ix_payouts_shop_id', table_name='payouts')
    op.drop_table('payouts')
    op.drop_index('ix_tracking_events_parcel', table_name='tracking_events')
    op.drop_table('tracking_events')
