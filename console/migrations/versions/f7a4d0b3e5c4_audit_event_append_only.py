"""audit_event is append-only in the database: a trigger refuses any UPDATE of its rows

The one change allowed is the database's own ``ON DELETE SET NULL`` of ``user_id`` when an
account is deleted (every other column unchanged). Deleting rows stays possible: the audited
retention purge is the only code that does.

Revision ID: f7a4d0b3e5c4
Revises: d5e2b8f1c3a2
Create Date: 2026-12-01 17:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f7a4d0b3e5c4'
down_revision = 'd5e2b8f1c3a2'
branch_labels = None
depends_on = None

MESSAGE = "audit_event rows are append-only"
COLUMNS = (
    "id", "at", "actor", "remote_addr", "category", "action", "object_type", "object_id", "server_name",
    "dag_id", "run_id", "task_id", "outcome", "error", "detail", "before", "after", "transaction_id", "reverts_id",
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
            BEGIN
                IF NEW.user_id IS NOT NULL
                   OR (to_jsonb(NEW) - 'user_id') IS DISTINCT FROM (to_jsonb(OLD) - 'user_id') THEN
                    RAISE EXCEPTION '{MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        changed = " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in COLUMNS)
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE ON audit_event "
            f"WHEN NEW.user_id IS NOT NULL OR {changed} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS audit_event_append_only" + (
        " ON audit_event" if op.get_bind().dialect.name == "postgresql" else ""
    ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
