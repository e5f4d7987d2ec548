"""returns and refunds; webhook receipts; the sandbox provider's own records

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'refunds',
        sa.Column('id', BigId, nullable=False),
        sa.Column('order_id', BigId, sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('idempotency_key', sa.String(100), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('reason', sa.String(300), nullable=False),
        sa.Column('status', sa.String(12), nullable=False),
        sa.Column('provider_refund_id', sa.String(64), nullable=True),
        sa.Column('failure_code', sa.String(40), nullable=True),
        sa.Column('actor_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('completed_at', sa.DateTime(), nullable=True),
        sa.Column('attempt', sa.Integer(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_id', 'idempotency_key', name='uq_refunds_order_key'))
    op.create_index('ix_refunds_order_id', 'refunds', ['order_id'])
    op.create_table(
        'return_requests',
        sa.Column('id', BigId, nullable=False),
        sa.Column('order_id', BigId, sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('buyer_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('seller_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('shop_id', BigId, sa.ForeignKey('shops.id'), nullable=False),
        sa.Column('status', sa.String(15), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('photo_urls', sa.JSON(), nullable=False),
        sa.Column('refund_amount', sa.BigInteger(), nullable=True),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('seller_note', sa.String(500), nullable=True),
        sa.Column('dispute_reason', sa.String(1000), nullable=True),
        sa.Column('resolution_note', sa.String(500), nullable=True),
        sa.Column('reply_by', sa.DateTime(), nullable=False),
        sa.Column('decided_by', sa.BigInteger(), nullable=True),
        sa.Column('refund_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('disputed_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_id'))
    op.create_index('ix_return_requests_buyer_id', 'return_requests', ['buyer_id'])
    op.create_index('ix_return_requests_seller_id', 'return_requests', ['seller_id'])
    op.create_index('ix_return_requests_status_reply_by', 'return_requests', ['status', 'reply_by'])
    op.create_table(
        'payment_webhook_events',
        sa.Column('id', sa.String(64), nullable=False),
        sa.Column('type', sa.String(40), nullable=False),
        sa.Column('outcome', sa.String(40), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_table(
        'payment_webhook_signatures',
        sa.Column('signature', sa.String(64), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('signature'))
    op.create_index('ix_payment_webhook_signatures_received_at', 'payment_webhook_signatures', ['received_at'])
    op.create_table(
        'sandbox_intents',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('status', sa.String(25), nullable=False),
        sa.Column('reference', sa.String(120), nullable=False),
        sa.Column('captured', sa.BigInteger(), nullable=False),
        sa.Column('refunded', sa.BigInteger(), nullable=False),
        sa.Column('decline_code', sa.String(40), nullable=True),
        sa.Column('last4', sa.String(4), nullable=True),
        sa.Column('created', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_sandbox_intents_reference', 'sandbox_intents', ['reference'])
    op.create_table(
        'sandbox_cards',
        sa.Column('token', sa.String(40), nullable=False),
        sa.Column('last4', sa.String(4), nullable=False),
        sa.Column('brand', sa.String(20), nullable=False),
        sa.Column('behaviour', sa.String(30), nullable=False),
        sa.PrimaryKeyConstraint('token'))
    op.create_table(
        'sandbox_refunds',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('intent_id', sa.String(40), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('created', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_sandbox_refunds_intent_id', 'sandbox_refunds', ['intent_id'])
    op.create_table(
        'sandbox_idempotency',
        sa.Column('key', sa.String(255), nullable=False),
        sa.Column('fingerprint', sa.String(64), nullable=False),
        sa.Column('outcome', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('key'))
    op.create_table(
        'sandbox_events',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('type', sa.String(40), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created', sa.BigInteger(), nullable=False),
        sa.Column('delivered', sa.Boolean(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_sandbox_events_pending', 'sandbox_events', ['delivered', 'next_attempt_at'])


def downgrade() -> None:
    for table in ('sandbox_events', 'sandbox_idempotency', 'sandbox_refunds', 'sandbox_cards',
                  'sandbox_intents', 'payment_webhook_signatures', 'payment_webhook_events',
                  'return_requests', 'refunds'):
        op.drop_table(table)
