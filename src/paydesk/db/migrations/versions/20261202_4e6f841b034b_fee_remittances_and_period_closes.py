"""fee remittances and period closes

Revision ID: 4e6f841b034b
Revises: 0b1e59440425
Create Date: 2026-12-02 21:05:40.796462

Remittances of channel costs (per transaction, daily or monthly), the periods of graduated
and volume entries already closed, and who bears each cost.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4e6f841b034b"
down_revision: str | None = "0b1e59440425"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fee_period_closes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("party_type", sa.String(length=20), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries_closed", sa.Integer(), nullable=False),
        sa.Column("adjustment_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_period_closes")),
        sa.UniqueConstraint(
            "party_type",
            "party_id",
            "period_start",
            "period_end",
            name="uq_fee_period_closes_period",
        ),
    )
    op.create_table(
        "fee_remittances",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("channel_account_id", sa.String(length=40), nullable=False),
        sa.Column("payee", sa.String(length=40), nullable=False),
        sa.Column("schedule", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("period_key", sa.String(length=80), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payable_account_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("journal_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_fee_remittances_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_remittances")),
        sa.UniqueConstraint(
            "payable_account_id",
            "period_key",
            name=op.f("uq_fee_remittances_payable_account_id_period_key"),
        ),
    )
    with op.batch_alter_table("fee_remittances", schema=None) as batch_op:
        batch_op.create_index("ix_fee_remittances_created", ["created_at"], unique=False)

    with op.batch_alter_table("fee_charges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("borne_by", sa.String(length=20), server_default="platform", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("fee_charges", schema=None) as batch_op:
        batch_op.drop_column("borne_by")

    with op.batch_alter_table("fee_remittances", schema=None) as batch_op:
        batch_op.drop_index("ix_fee_remittances_created")

    op.drop_table("fee_remittances")
    op.drop_table("fee_period_closes")
