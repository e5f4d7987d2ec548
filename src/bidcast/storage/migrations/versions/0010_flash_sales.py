"""flash sales

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'flash_sales',
        sa.Column('id', BigId, nullable=False),
        sa.Column('room_id', BigId, sa.ForeignKey('rooms.id'), nullable=False),
        sa.Column('host_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('shop_id', BigId, sa.ForeignKey('shops.id'), nullable=False),
        sa.Column('seller_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('product_id', BigId, sa.ForeignKey('products.id'), nullable=False),
        sa.Column('title', sa.String(140), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('sale_price', sa.BigInteger(), nullable=False),
        sa.Column('regular_price', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('sold', sa.Integer(), nullable=False),
        sa.Column('per_buyer_limit', sa.Integer(), nullable=False),
        sa.Column('duration_seconds', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('returned', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('launch_key', sa.String(64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.CheckConstraint('sold >= 0 AND sold <= quantity', name='ck_flash_sales_sold'),
        sa.UniqueConstraint('room_id', 'launch_key', name='uq_flash_sales_launch_key'))
    op.create_index('ix_flash_sales_room_id', 'flash_sales', ['room_id'])
    op.create_index('ix_flash_sales_status_ends', 'flash_sales', ['status', 'ends_at'])
    op.create_table(
        'flash_buyers',
        sa.Column('id', BigId, nullable=False),
        sa.Column('sale_id', BigId, sa.ForeignKey('flash_sales.id'), nullable=False),
        sa.Column('buyer_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.Column('cap', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sale_id', 'buyer_id', name='uq_flash_buyers'),
        sa.CheckConstraint('units >= 0 AND units <= cap', name='ck_flash_buyers_units'))
    op.create_table(
        'flash_purchases',
        sa.Column('id', BigId, nullable=False),
        sa.Column('sale_id', BigId, sa.ForeignKey('flash_sales.id'), nullable=False),
        sa.Column('buyer_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('idempotency_key', sa.String(64), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('order_id', BigId, sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sale_id', 'buyer_id', 'idempotency_key', name='uq_flash_purchases_key'))


def downgrade() -> None:
    op.drop_table('flash_purchases')
    op.drop_table('flash_buyers')
    op.drop_index('ix_flash_sales_status_ends', table_name='flash_sales')
    op.drop_index('ix_flash_sales_room_id', table_name='flash_sales')
    op.drop_table('flash_sales')
