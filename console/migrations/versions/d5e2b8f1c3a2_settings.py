"""Console settings: one row per setting an admin changed, versioned (secrets excluded)

Revision ID: d5e2b8f1c3a2
Revises: c4d1a7e0b2f1
Create Date: 2026-12-01 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd5e2b8f1c3a2'
down_revision = 'c4d1a7e0b2f1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'setting',
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('value_json', sa.Text(), nullable=True),
        sa.Column('secret_ciphertext', sa.Text(), nullable=True),
        sa.Column('secret_changed_at', sa.DateTime(), nullable=True),
        sa.Column('revision', sa.Integer(), server_default='0', nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'setting_version',
        sa.Column('name', sa.String(length=80), autoincrement=False, nullable=False),
        sa.Column('value_json', sa.Text(), autoincrement=False, nullable=True),
        sa.Column('secret_changed_at', sa.DateTime(), autoincrement=False, nullable=True),
        sa.Column('updated_at', sa.DateTime(), autoincrement=False, nullable=True),
        sa.Column('transaction_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('end_transaction_id', sa.BigInteger(), nullable=True),
        sa.Column('operation_type', sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'transaction_id'),
    )
    with op.batch_alter_table('setting_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_setting_version_end_transaction_id'), ['end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_setting_version_operation_type'), ['operation_type'], unique=False)
        batch_op.create_index(
            'ix_setting_version_pk_transaction_id', ['name', sa.literal_column('transaction_id DESC')], unique=False
        )
        batch_op.create_index(
            'ix_setting_version_pk_validity', ['name', 'transaction_id', 'end_transaction_id'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_setting_version_transaction_id'), ['transaction_id'], unique=False)


def downgrade():
    op.drop_table('setting_version')
    op.drop_table('setting')
