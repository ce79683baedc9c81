"""Free-text search over the audit trail: an FTS5 index kept by triggers (SQLite only)

Revision ID: e6f3c9a2d4b3
Revises: f7a4d0b3e5c4
Create Date: 2026-12-01 17:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e6f3c9a2d4b3'
down_revision = 'f7a4d0b3e5c4'
branch_labels = None
depends_on = None

_COLUMNS = "actor, action, object_type, object_id, server_name, dag_id, run_id, task_id, error, detail"
_NEW = ", ".join(f"new.{c.strip()}" for c in _COLUMNS.split(","))
_OLD = ", ".join(f"old.{c.strip()}" for c in _COLUMNS.split(","))


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL searches with ILIKE (console/services/audit_log.py)
    op.execute(
        f"CREATE VIRTUAL TABLE audit_event_fts USING fts5({_COLUMNS}, content='audit_event', content_rowid='id')"
    )
    # Its vocabulary: a word prefix is searched as the OR of the words it begins (fast, lazy),
    # not as an FTS5 prefix query (which merges every matching word's list first).
    op.execute("CREATE VIRTUAL TABLE audit_event_fts_vocab USING fts5vocab(audit_event_fts, 'row')")
    op.execute(
        f"""CREATE TRIGGER audit_event_fts_insert AFTER INSERT ON audit_event BEGIN
              INSERT INTO audit_event_fts(rowid, {_COLUMNS}) VALUES (new.id, {_NEW});
            END"""
    )
    op.execute(
        f"""CREATE TRIGGER audit_event_fts_delete AFTER DELETE ON audit_event BEGIN
              INSERT INTO audit_event_fts(audit_event_fts, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD});
            END"""
    )
    op.execute(
        f"""CREATE TRIGGER audit_event_fts_update AFTER UPDATE ON audit_event BEGIN
              INSERT INTO audit_event_fts(audit_event_fts, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD});
              INSERT INTO audit_event_fts(rowid, {_COLUMNS}) VALUES (new.id, {_NEW});
            END"""
    )
    op.execute("INSERT INTO audit_event_fts(audit_event_fts) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_event_fts_{name}")
    op.execute("DROP TABLE IF EXISTS audit_event_fts_vocab")
    op.execute("DROP TABLE IF EXISTS audit_event_fts")
