"""The audit trail in one table: airflow_action becomes audit_event (category, object, outcome, before/after)

Revision ID: c4d1a7e0b2f1
Revises: b3a9e2f41c07
Create Date: 2026-12-01 16:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4d1a7e0b2f1'
down_revision = 'b3a9e2f41c07'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        'audit_event',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('remote_addr', sa.String(length=50), nullable=True),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('object_type', sa.String(length=40), nullable=True),
        sa.Column('object_id', sa.String(length=250), nullable=True),
        sa.Column('server_name', sa.String(length=80), nullable=True),
        sa.Column('dag_id', sa.String(length=250), nullable=True),
        sa.Column('run_id', sa.String(length=250), nullable=True),
        sa.Column('task_id', sa.String(length=250), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('before', sa.Text(), nullable=True),
        sa.Column('after', sa.Text(), nullable=True),
        sa.Column('transaction_id', _ID, nullable=True),
        sa.Column('reverts_id', _ID, nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['reverts_id'], ['audit_event.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_event_dag_id', ['dag_id'], unique=False)
        batch_op.create_index('ix_audit_event_transaction_id', ['transaction_id'], unique=False)
        batch_op.create_index('ix_audit_event_actor_id', ['actor', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_action_id', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_object', ['object_type', 'object_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_server_id', ['server_name', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_outcome_id', ['outcome', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_category_id', ['category', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_user_id', ['user_id', 'id'], unique=False)
    op.execute(
        """
        INSERT INTO audit_event (at, user_id, actor, remote_addr, category, action, object_type, object_id,
                                 server_name, dag_id, run_id, task_id, outcome, error, detail)
        SELECT performed_at, user_id, actor, remote_addr, 'airflow', action,
               CASE WHEN task_id IS NOT NULL THEN 'task_instance'
                    WHEN run_id IS NOT NULL THEN 'dag_run' ELSE 'dag' END,
               CASE WHEN task_id IS NOT NULL THEN dag_id || '/' || run_id || '/' || task_id
                    WHEN run_id IS NOT NULL THEN dag_id || '/' || run_id ELSE dag_id END,
               server_name, dag_id, run_id, task_id,
               CASE WHEN succeeded THEN 'success' ELSE 'failed' END, error, detail
        FROM airflow_action ORDER BY id
        """
    )
    op.drop_table('airflow_action')


def downgrade():
    op.create_table(
        'airflow_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('performed_at', sa.DateTime(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('remote_addr', sa.String(length=50), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('server_name', sa.String(length=80), nullable=False),
        sa.Column('dag_id', sa.String(length=250), nullable=True),
        sa.Column('run_id', sa.String(length=250), nullable=True),
        sa.Column('task_id', sa.String(length=250), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('succeeded', sa.Boolean(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.drop_table('audit_event')
