"""task_run.requested_by: who asked for a run

Revision ID: 55d8463d257f
Revises: 4cbb4b9b540f
Create Date: 2026-12-01 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '55d8463d257f'
down_revision = '4cbb4b9b540f'
branch_labels = None
depends_on = None


def upgrade():
    # Runs recorded before this column keep NULL: who asked for them was not recorded.
    with op.batch_alter_table('task_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_by', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('task_run', schema=None) as batch_op:
        batch_op.drop_column('requested_by')
