"""Store alert webhook URLs encrypted and keep them out of the task history

The plaintext ``task.alert_webhook_url`` becomes ``alert_webhook_ciphertext``
(encrypted with the app's key from SECRET_KEY, so run this through
``manage.py db upgrade``), and ``task_version`` loses its plaintext copies:
the history keeps only ``alert_webhook_changed_at``. Past webhook deliveries
keep only the masked URL (``https://host/…``), as new ones do.

Revision ID: 7d1e0c5a9b3f
Revises: 55d8463d257f
Create Date: 2026-11-27 10:00:00.000000

"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

# revision identifiers, used by Alembic.
revision = '7d1e0c5a9b3f'
down_revision = '55d8463d257f'
branch_labels = None
depends_on = None

task = sa.table(
    'task',
    sa.column('id', sa.Integer),
    sa.column('alert_webhook_url', sa.String),
    sa.column('alert_webhook_ciphertext', sa.Text),
    sa.column('alert_webhook_changed_at', sa.DateTime),
)

delivery = sa.table(
    'alert_delivery',
    sa.column('id', sa.Integer),
    sa.column('channel', sa.String),
    sa.column('target', sa.String),
)


def _need_app() -> None:
    if not has_app_context() or not current_app.config.get('SECRET_KEY'):
        raise RuntimeError('This migration encrypts webhook URLs with SECRET_KEY: run it with `manage.py db upgrade`.')


# No batch mode on ``task``: rebuilding it on SQLite (foreign keys on) would drop the old table and
# cascade-delete every task_run and alert_delivery. Plain ADD/DROP COLUMN (SQLite >= 3.35) keeps the rows.


def upgrade():
    op.add_column('task', sa.Column('alert_webhook_ciphertext', sa.Text(), server_default='', nullable=False))
    op.add_column('task', sa.Column('alert_webhook_changed_at', sa.DateTime(), nullable=True))

    conn = op.get_bind()
    rows = conn.execute(sa.select(task.c.id, task.c.alert_webhook_url).where(task.c.alert_webhook_url != '')).all()
    if rows:
        _need_app()
        from console.security.secrets import encrypt

        now = datetime.now(timezone.utc).replace(tzinfo=None)
        for row_id, url in rows:
            conn.execute(
                task.update()
                .where(task.c.id == row_id)
                .values(alert_webhook_ciphertext=encrypt(url), alert_webhook_changed_at=now)
            )
    op.drop_column('task', 'alert_webhook_url')

    with op.batch_alter_table('task_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_webhook_changed_at', sa.DateTime(), autoincrement=False, nullable=True))
        batch_op.drop_column('alert_webhook_url')

    from console.security.outbound import masked

    for row_id, target in conn.execute(
        sa.select(delivery.c.id, delivery.c.target).where(delivery.c.channel == 'webhook')
    ).all():
        conn.execute(delivery.update().where(delivery.c.id == row_id).values(target=masked(target)))


def downgrade():
    op.add_column('task', sa.Column('alert_webhook_url', sa.String(length=500), server_default='', nullable=False))

    conn = op.get_bind()
    rows = conn.execute(
        sa.select(task.c.id, task.c.alert_webhook_ciphertext).where(task.c.alert_webhook_ciphertext != '')
    ).all()
    if rows:
        _need_app()
        from console.security.secrets import SecretUnreadable, decrypt

        for row_id, ciphertext in rows:
            try:
                url = decrypt(ciphertext)[:500]
            except SecretUnreadable:
                url = ''
            conn.execute(task.update().where(task.c.id == row_id).values(alert_webhook_url=url))
    op.drop_column('task', 'alert_webhook_changed_at')
    op.drop_column('task', 'alert_webhook_ciphertext')

    with op.batch_alter_table('task_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_webhook_url', sa.String(length=500), autoincrement=False, nullable=True))
        batch_op.drop_column('alert_webhook_changed_at')
