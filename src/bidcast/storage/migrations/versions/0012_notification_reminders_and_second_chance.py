"""notification reminders and second-chance offers

Coalescing outbid notices (a group key, unique among a person's unread notifications), e-mail
back-off and claim leases, e-mail preferences, the payment-due reminder marker and the
second-chance offer (once per cancelled order).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

UNREAD = sa.text('read_at IS NULL')
UNREAD_GROUP = sa.text('read_at IS NULL AND group_key IS NOT NULL')


def upgrade() -> None:
    with op.batch_alter_table('notifications') as b:
        b.add_column(sa.Column('group_key', sa.String(60), nullable=True))
        b.add_column(sa.Column('email_next_at', sa.DateTime(), nullable=True))
    op.create_index('uq_notifications_unread_group', 'notifications', ['user_id', 'group_key'],
                    unique=True, sqlite_where=UNREAD_GROUP, postgresql_where=UNREAD_GROUP)
    op.create_index('ix_notifications_unread', 'notifications', ['user_id'],
                    sqlite_where=UNREAD, postgresql_where=UNREAD)
    op.create_table(
        'notification_settings',
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('users.id'), nullable=False),
        sa.Column('email_enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('muted_kinds', sa.String(600), server_default='', nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('user_id'))
    op.create_table(
        'payment_reminders',
        sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('order_id'))
    op.create_table(
        'second_chance_offers',
        sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('orders.id'), nullable=False),
        sa.Column('offer_order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('orders.id'), nullable=False, unique=True),
        sa.Column('runner_up_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('users.id'), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('order_id'))


def downgrade() -> None:
    op.drop_table('second_chance_offers')
    op.drop_table('payment_reminders')
    op.drop_table('notification_settings')
    op.drop_index('ix_notifications_unread', table_name='notifications')
    op.drop_index('uq_notifications_unread_group', table_name='notifications')
    with op.batch_alter_table('notifications') as b:
        b.drop_column('email_next_at')
        b.drop_column('group_key')
