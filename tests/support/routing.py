"""Routing in end-to-end tests: a second WeChat Pay merchant number at the sandbox's
simulator, and the merchant's routing policy set through the API."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from paydesk.simulators import wechatpay as wechat_sim
from tests.support.sandbox import SandboxServer


def second_wechat_account(sandbox: SandboxServer) -> tuple[str, str]:
    """A second merchant number at the same simulated platform, added as an account through
    the API; returns (account id, mchid)."""
    first = sandbox.wechat_credentials
    other = dataclasses.replace(
        wechat_sim.generate_test_credentials(),
        appid=first.appid,
        platform_private_key_pem=first.platform_private_key_pem,
        platform_public_key_pem=first.platform_public_key_pem,
        public_key_id=first.public_key_id,
        apiv3_key=first.apiv3_key,
    )
    simulator = sandbox.sandbox.simulator("wechatpay").state.simulator
    simulator.add_merchant(other.merchant(name="Second merchant number"))
    answer = httpx.post(
        f"{sandbox.base_url}/v1/channel-accounts",
        headers=sandbox.headers,
        json={
            "channel": "wechatpay",
            "name": "WeChat via the second merchant number",
            "mode": "sandbox",
            "credentials": {
                "mchid": other.mchid,
                "appid": other.appid,
                "merchant_private_key_pem": other.merchant_private_key_pem,
                "merchant_cert_serial_no": other.merchant_cert_serial_no,
                "platform_public_key_pem": other.platform_public_key_pem,
                "public_key_id": other.public_key_id,
                "apiv3_key": other.apiv3_key,
            },
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], other.mchid


def put_policy(sandbox: SandboxServer, policy: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.put(
        f"{sandbox.base_url}/v1/routing-policy", headers=sandbox.headers, json=policy
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
