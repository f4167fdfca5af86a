"""Knowledge bases, documents, accounts, widget keys, server secrets, feedback, audit.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_bases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("readers", sa.JSON, nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("kb", sa.String(40), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added", sa.String(32), nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
    )
    op.create_table(
        "widget_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kb", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("origins", sa.JSON, nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("revoked", sa.String(32)),
    )
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kb", sa.String(40), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("liked", sa.Boolean, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("searched", sa.Text, nullable=False),
        sa.Column("answer", sa.JSON, nullable=False),
    )
    op.create_index("ix_feedback_kb", "feedback", ["kb"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit",
        "feedback",
        "server_secrets",
        "widget_keys",
        "accounts",
        "documents",
        "knowledge_bases",
    ):
        op.drop_table(table)
