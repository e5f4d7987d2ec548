"""order status apart from payment and fulfilment; order lines; notifications; per-show window

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('rooms') as b:
        b.add_column(sa.Column('payment_window_seconds', sa.Integer(), nullable=True))
    with op.batch_alter_table('auctions') as b:
        b.add_column(sa.Column('final_sale', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('orders') as b:
        b.add_column(sa.Column('kind', sa.String(15), server_default='auction', nullable=False))
        b.add_column(sa.Column('shipping_amount', sa.BigInteger(), server_default='0', nullable=False))
        b.add_column(sa.Column('payment_state', sa.String(20), server_default='unpaid', nullable=False))
        b.add_column(sa.Column('fulfilment_state', sa.String(20), server_default='unfulfilled', nullable=False))
        b.add_column(sa.Column('refunded_amount', sa.BigInteger(), server_default='0', nullable=False))
        b.add_column(sa.Column('final_sale', sa.Boolean(), server_default='0', nullable=False))
        b.add_column(sa.Column('checkout_id', sa.String(40), nullable=True))
        b.add_column(sa.Column('flash_sale_id', sa.BigInteger(), nullable=True))
        b.add_column(sa.Column('shipping_address', sa.JSON(), nullable=True))
        b.add_column(sa.Column('shipping_method', sa.String(20), nullable=True))
        b.add_column(sa.Column('carrier', sa.String(40), nullable=True))
        b.add_column(sa.Column('tracking_number', sa.String(60), nullable=True))
        for col in ('shipped_at', 'delivered_at', 'completed_at', 'funds_released_at', 'cancelled_at'):
            b.add_column(sa.Column(col, sa.DateTime(), nullable=True))
        b.add_column(sa.Column('cancelled_by', sa.BigInteger(), nullable=True))
        b.create_index('ix_orders_checkout_id', ['checkout_id'])
        b.create_index('ix_orders_flash_sale_id', ['flash_sale_id'])
        b.create_index('ix_orders_status_delivered', ['status', 'delivered_at'])
    op.execute("UPDATE orders SET payment_state = 'paid' WHERE status = 'paid'")
    op.create_table(
        'order_lines',
        sa.Column('id', BigId, nullable=False),
        sa.Column('order_id', BigId, sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('product_id', BigId, sa.ForeignKey('products.id'), nullable=False),
        sa.Column('title', sa.String(140), nullable=False),
        sa.Column('unit_price', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_order_lines_order_id', 'order_lines', ['order_id'])
    # Orders made before lines existed were auction wins: one unit at the final price.
    op.execute("INSERT INTO order_lines (order_id, product_id, title, unit_price, quantity, currency) "
               "SELECT o.id, o.product_id, p.title, o.amount, 1, o.currency "
               "FROM orders o JOIN products p ON p.id = o.product_id")
    op.create_table(
        'notifications',
        sa.Column('id', BigId, nullable=False),
        sa.Column('user_id', BigId, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('kind', sa.String(30), nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('link', sa.String(300), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=True),
        sa.Column('email_state', sa.String(10), server_default='pending', nullable=False),
        sa.Column('email_attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('emailed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_notifications_user', 'notifications', ['user_id', 'id'])
    op.create_index('ix_notifications_email_state', 'notifications', ['email_state'])


def downgrade() -> None:
    op.drop_table('notifications')
    op.drop_table('order_lines')
    with op.batch_alter_table('orders') as b:
        b.drop_index('ix_orders_status_delivered')
        b.drop_index('ix_orders_flash_sale_id')
        b.drop_index('ix_orders_checkout_id')
        for col in ('kind', 'shipping_amount', 'payment_state', 'fulfilment_state', 'refunded_amount',
                    'final_sale', 'checkout_id', 'flash_sale_id', 'shipping_address', 'shipping_method',
                    'carrier', 'tracking_number', 'shipped_at', 'delivered_at', 'completed_at',
                    'funds_released_at', 'cancelled_at', 'cancelled_by'):
            b.drop_column(col)
    with op.batch_alter_table('auctions') as b:
        b.drop_column('final_sale')
    with op.batch_alter_table('rooms') as b:
        b.drop_column('payment_window_seconds')
