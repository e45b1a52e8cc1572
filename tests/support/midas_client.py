"""A tiny Midas client for the tests, written from the protocol description rather than from
the server's code: it signs with ``hmac`` directly, so a server that signs wrongly fails."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient


def _hmac_hex(key: str, text: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _pairs(params: dict[str, Any]) -> str:
    return "&".join(f"{name}={params[name]}" for name in sorted(params))


def sign(
    params: dict[str, Any], uri: str, app_key: str, access_token: str, session_key: str
) -> dict[str, Any]:
    """``params`` with ``sig`` and ``mp_sig`` added."""
    sig = _hmac_hex(app_key, f"{_pairs(params)}&org_loc={uri}&method=POST&secret={app_key}")
    everything = {**params, "access_token": access_token, "sig": sig}
    text = f"{_pairs(everything)}&org_loc={uri}&method=POST&session_key={session_key}"
    return {**params, "sig": sig, "mp_sig": _hmac_hex(session_key, text)}


@dataclass
class MidasClient:
    http: TestClient
    appid: str
    offer_id: str
    app_key: str
    app_secret: str
    access_token: str = ""
    session_keys: dict[str, str] = field(default_factory=dict)

    def fetch_token(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.app_secret,
            },
        ).json()
        self.access_token = answer.get("access_token", "")
        return answer

    def call(
        self,
        action: str,
        openid: str,
        *,
        zone_id: str = "1",
        sandbox: bool = False,
        ts: int | None = None,
        session_key: str | None = None,
        app_key: str | None = None,
        access_token: str | None = None,
        after_signing: dict[str, Any] | None = None,
        signed_uri: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """POST one signed Midas call; ``after_signing`` changes the body once it is signed
        (a tampered request); ``signed_uri`` signs for another URI than the one called."""
        uri = f"/cgi-bin/midas/{'sandbox/' if sandbox else ''}{action}"
        token = self.access_token if access_token is None else access_token
        params: dict[str, Any] = {
            "openid": openid,
            "appid": self.appid,
            "offer_id": self.offer_id,
            "ts": int(time.time()) if ts is None else ts,
            "zone_id": zone_id,
            "pf": "android",
            **extra,
        }
        key = session_key if session_key is not None else self.session_keys.get(openid, "none")
        body = sign(params, signed_uri or uri, app_key or self.app_key, token, key)
        body.update(after_signing or {})
        response = self.http.post(uri, params={"access_token": token}, json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer
