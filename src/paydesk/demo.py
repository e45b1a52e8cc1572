"""Demo data for the embedded default: a demo merchant with an app, fresh keys and, when the
sandbox is enabled, a WeChat Pay and an Alipay sandbox channel account.

Keys are shown once and stored hashed, so each run rotates the demo keys: the earlier demo
keys are revoked and new ones are printed. Everything else is created only once. The sandbox
accounts hold the sandbox's persisted keys (paydesk.sandbox.credentials); if those were made
again, the accounts take the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.merchants import auth, service
from paydesk.merchants import repository as repo
from paydesk.merchants.models import ApiKey, App, KeyMode, Merchant, MerchantKind
from paydesk.sandbox.accounts import EnsuredAccount, ensure_sandbox_account
from paydesk.sandbox.credentials import SandboxKeys

DEMO_MERCHANT_NAME = "Demo Shop"
DEMO_APP_NAME = "Demo App"
DEMO_LABEL = "demo"
ACTOR = "cli:demo"
SANDBOX_ACCOUNT_NAMES = {
    "wechatpay": "Demo WeChat Pay sandbox",
    "alipay": "Demo Alipay sandbox",
    "qqwallet": "Demo QQ Wallet sandbox",
    "unionpay": "Demo UnionPay sandbox",
}


@dataclass(frozen=True, slots=True)
class DemoKeys:
    merchant: Merchant
    app: App
    test_key: str
    admin_key: str
    created: bool
    """False when the demo merchant already existed and only the keys were rotated."""
    sandbox_accounts: dict[str, EnsuredAccount]
    """Per channel (``wechatpay``, ``alipay``, ``qqwallet``); empty without a sandbox."""


def seed(
    session: Session, *, sandbox: SandboxKeys | None = None, secret: str | None = None
) -> DemoKeys:
    """The demo merchant, app and fresh keys; with ``sandbox`` (the persisted sandbox keys)
    and ``secret`` (the server secret, which encrypts them), its sandbox channel accounts."""
    platform = service.ensure_platform(session)
    merchant = session.scalars(
        sa.select(Merchant).where(
            Merchant.name == DEMO_MERCHANT_NAME, Merchant.parent_id == platform.id
        )
    ).first()
    created = merchant is None
    if merchant is None:
        merchant = service.create_merchant(
            session,
            name=DEMO_MERCHANT_NAME,
            kind=MerchantKind.MERCHANT,
            parent_id=None,
            actor=ACTOR,
        )
    app = session.scalars(
        sa.select(App).where(App.merchant_id == merchant.id, App.name == DEMO_APP_NAME)
    ).first()
    if app is None:
        app = service.create_app(session, merchant.id, DEMO_APP_NAME, actor=ACTOR)

    for old in repo.keys_labelled(session, app.id, DEMO_LABEL):
        auth.revoke_key(session, merchant.id, old.id, actor=ACTOR)
    for old_admin in session.scalars(
        sa.select(ApiKey).where(
            ApiKey.merchant_id == platform.id,
            ApiKey.label == DEMO_LABEL,
            ApiKey.revoked_at.is_(None),
        )
    ):
        auth.revoke_key(session, platform.id, old_admin.id, actor=ACTOR)

    test_key = auth.issue_key(
        session,
        merchant_id=merchant.id,
        mode=KeyMode.TEST,
        app_id=app.id,
        label=DEMO_LABEL,
        actor=ACTOR,
    )
    admin_key = auth.issue_admin_key(session, label=DEMO_LABEL, actor=ACTOR)
    sandbox_accounts: dict[str, EnsuredAccount] = {}
    if sandbox is not None:
        if secret is None:
            raise ValueError("the server secret is needed to store sandbox credentials")
        for channel, name in SANDBOX_ACCOUNT_NAMES.items():
            sandbox_accounts[channel] = ensure_sandbox_account(
                session, merchant.id, channel, keys=sandbox, secret=secret, actor=ACTOR, name=name
            )
    return DemoKeys(
        merchant=merchant,
        app=app,
        test_key=test_key.secret,
        admin_key=admin_key.secret,
        created=created,
        sandbox_accounts=sandbox_accounts,
    )
