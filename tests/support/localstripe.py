"""localstripe (PyPI), an independent Stripe API server, run as a subprocess on loopback.

``localstripe_server()`` starts ``localstripe --from-scratch --port N`` (the script installed
next to the running interpreter) on a free port, waits until it answers HTTP, yields a
:class:`LocalStripe` and stops it (terminate, then kill). ``--from-scratch`` skips loading a
saved store; localstripe still writes its whole store to a fixed pickle file in the system's
temporary directory after every change (not configurable), which nothing here reads.

What localstripe 1.15 offers and does not (checked against its source):

- PaymentIntents: create (``confirm``, ``payment_method``, ``payment_method_types``,
  ``metadata``), retrieve (``expand``), list (``limit``/``starting_after`` only, oldest
  first), confirm, cancel, and ``POST /v1/payment_intents/{id}/_authenticate`` to play the
  payer's 3-D Secure step (publishable key and ``client_secret``). Any parameter it does not
  model is a 400 ``Unexpected <name>``: ``description``, ``return_url``,
  ``allowed_payment_method_types``. No search (``/v1/payment_intents/search`` is a 404), and
  no idempotency: ``Idempotency-Key`` is ignored.
- Test cards: ``4242 4242 4242 4242`` succeeds; ``4000 0000 0000 0341`` (and
  ``4000 0082 6000 3178``, ``4000 0084 0000 1629``) is declined on charge (402
  ``card_declined``, no ``decline_code``); ``4000 0000 0000 0002`` is declined only when
  attached to a customer, so charging it succeeds; ``4000 0025 0000 3155`` asks for
  authentication (``requires_action``, ``use_stripe_sdk``).
- Refunds: create (``payment_intent`` or ``charge``, ``amount``, ``metadata``), always
  ``succeeded`` at once, amounts unchecked against the charge; retrieve; list by
  ``payment_intent``.
- Balance transactions: ``/v1/balance_transactions`` lists them (one per charge and refund,
  newest first) but refuses the ``created`` filter (400 ``Unexpected created``).
- Errors: always ``type: invalid_request_error``, a 404 carries no ``resource_missing``
  code; a declined card is a 402 with ``code: card_declined``.
- Webhooks: ``POST /_config/webhooks/{name}`` with ``url``, ``secret`` (and optionally
  ``events``) registers an endpoint; events are signed ``t=<created>,v1=<HMAC-SHA256>`` like
  Stripe's and sent about a second later, once, without retries. It sends
  ``payment_intent.succeeded`` and ``payment_intent.payment_failed`` (and customer, invoice,
  plan, product, payout events), but nothing for a cancel or a refund. Events say
  ``api_version: 2017-08-15`` and carry the intent with ``latest_charge`` expanded.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.server import free_port

STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
TEST_SECRET_KEY = "sk_test_localstripe0000000000"
TEST_PUBLISHABLE_KEY = "pk_test_localstripe0000000000"
"""localstripe accepts any ``sk_`` key (and a ``pk_`` one where Stripe.js would use it)."""


def localstripe_executable() -> Path:
    """The ``localstripe`` script of the environment running the tests."""
    name = "localstripe.exe" if sys.platform == "win32" else "localstripe"
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed next to {Path(sys.executable).name}")
    return path


@dataclass
class LocalStripe:
    """A running localstripe: its URL, and the few calls of its own tests need."""

    url: str
    process: subprocess.Popen[bytes]

    def configure_webhook(
        self, name: str, url: str, secret: str, events: Sequence[str] | None = None
    ) -> None:
        """Have localstripe sign events with ``secret`` and POST them to ``url``."""
        body: dict[str, object] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = list(events)
        answer = httpx.post(f"{self.url}/_config/webhooks/{name}", json=body, timeout=5.0)
        answer.raise_for_status()

    def card_payment_method(self, number: str, *, cvc: str = "123") -> str:
        """A PaymentMethod made from a test card number (what Stripe.js does on the payer's
        device); its id is the ``payment_token`` of a pay request."""
        answer = httpx.post(
            f"{self.url}/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": number.replace(" ", ""),
                "card[exp_month]": "12",
                "card[exp_year]": str(time.gmtime().tm_year + 3),
                "card[cvc]": cvc,
            },
            auth=(TEST_SECRET_KEY, ""),
            timeout=5.0,
        )
        answer.raise_for_status()
        return str(answer.json()["id"])

    def authenticate(self, payment_intent: str, client_secret: str, *, success: bool) -> None:
        """Play the payer's 3-D Secure step for an intent in ``requires_action``."""
        answer = httpx.post(
            f"{self.url}/v1/payment_intents/{payment_intent}/_authenticate",
            data={
                "key": TEST_PUBLISHABLE_KEY,
                "client_secret": client_secret,
                "success": "true" if success else "false",
            },
            timeout=5.0,
        )
        answer.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)


def _wait_until_answering(server: LocalStripe) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"localstripe exited with code {server.process.returncode}")
        try:
            httpx.get(f"{server.url}/v1/balance", timeout=1.0)  # any HTTP answer will do
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError("localstripe did not start in time") from None
            time.sleep(0.05)


@contextmanager
def localstripe_server() -> Iterator[LocalStripe]:
    """Run a fresh localstripe until the block ends; yields it (``.url`` is its API base)."""
    port = free_port()
    process = subprocess.Popen(
        [str(localstripe_executable()), "--from-scratch", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = LocalStripe(f"http://127.0.0.1:{port}", process)
    try:
        _wait_until_answering(server)
        yield server
    finally:
        server.stop()
