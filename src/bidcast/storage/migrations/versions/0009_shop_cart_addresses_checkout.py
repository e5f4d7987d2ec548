"""shop: server-side carts, saved addresses, checkouts (the idempotency record of a checkout)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 02:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'cart_lines',
        sa.Column('id', BigId, nullable=False),
        sa.Column('user_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('product_id', BigId, sa.ForeignKey('products.id'), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('last_key', sa.String(64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'product_id', name='uq_cart_lines_user_product'))
    op.create_index('ix_cart_lines_user_id', 'cart_lines', ['user_id'])
    op.create_table(
        'addresses',
        sa.Column('id', BigId, nullable=False),
        sa.Column('user_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('line1', sa.String(120), nullable=False),
        sa.Column('line2', sa.String(120), nullable=False),
        sa.Column('city', sa.String(80), nullable=False),
        sa.Column('postal_code', sa.String(12), nullable=False),
        sa.Column('country', sa.String(2), nullable=False),
        sa.Column('phone', sa.String(24), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_addresses_user_id', 'addresses', ['user_id'])
    # At most one default address per person, enforced by the database.
    op.create_index('uq_addresses_one_default', 'addresses', ['user_id'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table(
        'checkouts',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('user_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('idempotency_key', sa.String(64), nullable=False),
        sa.Column('request_hash', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_checkouts_user_key'))


def downgrade() -> None:
    op.drop_table('checkouts')
    op.drop_index('uq_addresses_one_default', table_name='addresses')
    op.drop_index('ix_addresses_user_id', table_name='addresses')
    op.drop_table('addresses')
    op.drop_index('ix_cart_lines_user_id', table_name='cart_lines')
    op.drop_table('cart_lines')
