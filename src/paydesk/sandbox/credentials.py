"""The sandbox's keys: made once, kept under the data directory, read at every start.

The simulators keep their trades in memory, but the keys they verify and sign with, and the
merchant identities they know, must outlive a restart: sandbox channel accounts stored in the
database hold the same keys. So the first start (or ``paydesk demo``, or ``paydesk channels
sandbox-account``) generates them and writes ``<data_dir>/sandbox-credentials.json``, mode
0600, like the development secret key; every later start reads that file. It is never in the
repository.

The identities are fixed (:data:`WECHATPAY_MCHID`, :data:`WECHATPAY_APPID`,
:data:`ALIPAY_APP_ID`, :data:`ALIPAY_SELLER_ID`); only the keys are random. If the file is lost
and made again, the accounts already stored keep their identity and take the new keys by
rotation (which may not change an identity), see :mod:`paydesk.sandbox.accounts`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paydesk.simulators import alipay as alipay_sim
from paydesk.simulators import qqwallet as qq_sim
from paydesk.simulators import unionpay as unionpay_sim
from paydesk.simulators import wechatpay as wechat_sim

FILE_NAME = "sandbox-credentials.json"
FORMAT_VERSION = 3
"""Version 2 added QQ Wallet, 3 UnionPay; an older file is completed with fresh keys for the
channels it lacks (and rewritten)."""

WECHATPAY_MCHID = "1900000109"
"""The sandbox's WeChat Pay merchant number: shared by every sandbox WeChat Pay account."""
WECHATPAY_APPID = "wxd930ea5d5a258f4f"
"""The app bound to it (the merchant number and app id are those of WeChat's API examples)."""
ALIPAY_APP_ID = "2021000000000001"
"""The sandbox's Alipay app: shared by every sandbox Alipay account."""
ALIPAY_SELLER_ID = "2088000000000001"
QQWALLET_MCH_ID = "1900000110"
"""The sandbox's QQ Wallet merchant number: shared by every sandbox QQ Wallet account."""
UNIONPAY_MER_ID = "777290058110048"
"""The sandbox's UnionPay merchant (15 digits, in the shape of UnionPay's test merchants)."""

CHANNELS = ("wechatpay", "alipay", "qqwallet", "unionpay")


class SandboxCredentialsError(Exception):
    """The credentials file exists but cannot be read; the message names the file."""


@dataclass(frozen=True)
class SandboxKeys:
    """Both simulators' keys and the one merchant (WeChat Pay) and app (Alipay) they know."""

    wechatpay: wechat_sim.TestCredentials
    alipay: alipay_sim.SandboxCredentials
    qqwallet: qq_sim.TestCredentials
    unionpay: unionpay_sim.SandboxCredentials

    def account_fields(self, channel: str) -> dict[str, str]:
        """The credentials of a sandbox channel account at ``channel``, in the field names of
        the channel-account registry (docs/channels.md)."""
        if channel == "wechatpay":
            wechat = self.wechatpay
            return {
                "mchid": wechat.mchid,
                "appid": wechat.appid,
                "merchant_private_key_pem": wechat.merchant_private_key_pem,
                "merchant_cert_serial_no": wechat.merchant_cert_serial_no,
                "platform_public_key_pem": wechat.platform_public_key_pem,
                "public_key_id": wechat.public_key_id,
                "apiv3_key": wechat.apiv3_key,
            }
        if channel == "alipay":
            ali = self.alipay
            return {
                "app_id": ali.app_id,
                "app_private_key_pem": ali.app_private_key_pem,
                "alipay_public_key_pem": ali.platform_public_key_pem,
                "seller_id": ali.seller_id,
            }
        if channel == "qqwallet":
            qq = self.qqwallet
            return {
                "mch_id": qq.mch_id,
                "appid": qq.appid,
                "api_key": qq.api_key,
                "sign_type": "HMAC-SHA256",
                "op_user_id": qq.op_user_id,
                "op_user_password": qq.op_user_password,
                "app_key": qq.app_key,
            }
        if channel == "unionpay":
            return self.unionpay.credential_fields()
        raise ValueError(f"no sandbox for channel {channel!r}; one of: {', '.join(CHANNELS)}")

    def __repr__(self) -> str:  # never show a key
        return (
            f"SandboxKeys(wechatpay mchid={self.wechatpay.mchid}, "
            f"alipay app_id={self.alipay.app_id})"
        )


def generate() -> SandboxKeys:
    """Fresh keys for the fixed sandbox identities."""
    wechat = dataclasses.replace(
        wechat_sim.generate_test_credentials(mchid=WECHATPAY_MCHID), appid=WECHATPAY_APPID
    )
    ali = dataclasses.replace(
        alipay_sim.generate_test_credentials(app_id=ALIPAY_APP_ID), seller_id=ALIPAY_SELLER_ID
    )
    return SandboxKeys(
        wechatpay=wechat, alipay=ali, qqwallet=_new_qqwallet(), unionpay=_new_unionpay()
    )


def _new_unionpay() -> unionpay_sim.SandboxCredentials:
    return unionpay_sim.generate_test_credentials(mer_id=UNIONPAY_MER_ID)


def _new_qqwallet() -> qq_sim.TestCredentials:
    return qq_sim.generate_test_credentials(mch_id=QQWALLET_MCH_ID)


def path_of(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def _to_json(keys: SandboxKeys) -> str:
    document = {
        "version": FORMAT_VERSION,
        "wechatpay": dataclasses.asdict(keys.wechatpay),
        "alipay": dataclasses.asdict(keys.alipay),
        "qqwallet": dataclasses.asdict(keys.qqwallet),
        "unionpay": dataclasses.asdict(keys.unionpay),
    }
    return json.dumps(document, indent=2) + "\n"


def _part(document: dict[str, Any], name: str, cls: type[Any]) -> Any:
    part = document.get(name)
    if not isinstance(part, dict):
        raise ValueError(f"no {name!r} object")
    names = {field.name for field in dataclasses.fields(cls)}
    if set(part) != names or not all(isinstance(value, str) for value in part.values()):
        raise ValueError(f"{name!r} must have exactly the string fields {sorted(names)}")
    return cls(**part)


def load(data_dir: Path) -> SandboxKeys | None:
    """The keys in ``data_dir``, or None when none were made there yet."""
    path = path_of(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxCredentialsError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        document = json.loads(text)
        version = document.get("version") if isinstance(document, dict) else None
        if version not in (1, 2, FORMAT_VERSION):
            raise ValueError(f"not a version {FORMAT_VERSION} sandbox credentials file")
        keys = SandboxKeys(
            wechatpay=_part(document, "wechatpay", wechat_sim.TestCredentials),
            alipay=_part(document, "alipay", alipay_sim.SandboxCredentials),
            qqwallet=(
                _part(document, "qqwallet", qq_sim.TestCredentials)
                if "qqwallet" in document
                else _new_qqwallet()
            ),
            unionpay=(
                _part(document, "unionpay", unionpay_sim.SandboxCredentials)
                if "unionpay" in document
                else _new_unionpay()
            ),
        )
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        message = str(exc) if not isinstance(exc, json.JSONDecodeError) else "not JSON"
        raise SandboxCredentialsError(
            f"{path}: {message}; delete it to make new sandbox keys "
            "(stored sandbox accounts then take them on the next `paydesk demo` or "
            "`paydesk channels sandbox-account`)"
        ) from None
    if version != FORMAT_VERSION:  # completed with the channels added since: keep them
        _write(data_dir, keys, replace=True)
    return keys


def load_or_create(data_dir: Path) -> SandboxKeys:
    """The keys in ``data_dir``, made and written there (mode 0600) the first time.

    Safe between processes: the file appears complete or not at all (written aside, then
    linked into place), and when two processes race, both use the one that was linked first.
    """
    found = load(data_dir)
    if found is not None:
        return found
    _write(data_dir, generate(), replace=False)
    written = load(data_dir)
    assert written is not None
    return written


def _write(data_dir: Path, keys: SandboxKeys, *, replace: bool) -> None:
    """Write aside (mode 0600), then link into place (a new file: the first process to link
    wins) or rename over the old one (an upgraded file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(prefix=".sandbox-credentials.", dir=data_dir)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_to_json(keys))
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(scratch, path_of(data_dir))
            return
        with contextlib.suppress(FileExistsError):  # another process linked its file first
            os.link(scratch, path_of(data_dir))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
