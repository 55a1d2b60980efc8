"""Stored responses of the Responses API, owned, linked to the conversation their chain shows as.

Revision ID: 0003_responses
Revises: 0002_organizations
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_responses"
down_revision = "0002_organizations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("previous_response_id", sa.String(64)),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="SET NULL")),
        sa.Column("message_id", sa.String(64), sa.ForeignKey("messages.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("background", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("input_items", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_index("ix_responses_organization_id", "responses", ["organization_id"])
    op.create_index("ix_responses_user_id", "responses", ["user_id"])


def downgrade() -> None:
    op.drop_table("responses")
