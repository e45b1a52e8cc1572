"""The route class of every ``/v1`` endpoint: authentication, one unit of work, idempotency.

For each request it authenticates the bearer key, opens one transaction (write or read-only),
runs the endpoint, and commits only if the endpoint answered 2xx; any error rolls everything
back, so a failed request changes nothing. Mutating requests with an ``Idempotency-Key``
store their response in the same transaction (see :mod:`paydesk.idempotency.service`).

One kind of endpoint must commit before it ends: one that calls a channel over the network,
which must not hold a transaction (or SQLite's write lock) open meanwhile, and must have
written what it is about to do first. It calls :func:`commit_checkpoint`; the key's claim is
then committed as in progress (a concurrent retry gets ``idempotency_key_in_use``), and if the
request ends in an error after the checkpoint the claim is dropped so a retry can run again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from paydesk.core.crypto import decrypt, encrypt
from paydesk.core.settings import Settings
from paydesk.db.engine import Database
from paydesk.idempotency import service as idempotency
from paydesk.merchants.auth import authenticate
from paydesk.merchants.principal import Principal

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class Services:
    """What the application holds for its whole life."""

    settings: Settings
    db: Database
    secret: str
    """The server secret (``settings.secret()``), read once."""
    sandbox_base_url: str | None = None
    """Where this server's channel simulators are reached (``<public_url>/sandbox``), None
    when the sandbox is not mounted: pass it to ``load_connector(sandbox_base_url=...)``."""


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _session(request: Request) -> Session:
    session: Session = request.state.session
    return session


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _idempotency_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the request safe to retry: a replay returns the first response.",
        ),
    ] = None,
) -> None:
    """Declared for the OpenAPI document; the route class reads the header itself."""


def commit_checkpoint(request: Request) -> None:
    """Commit what the endpoint wrote so far and go on in a new transaction (see above)."""
    _session(request).commit()
    request.state.checkpointed = True


SessionDep = Annotated[Session, Depends(_session)]
PrincipalDep = Annotated[Principal, Depends(_principal)]


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ["GET"]}
        self.mutating = bool(methods & MUTATING_METHODS)
        if self.mutating:
            kwargs["dependencies"] = [
                *(kwargs.get("dependencies") or []),
                Depends(_idempotency_header),
            ]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        mutating = self.mutating

        async def route_handler(request: Request) -> Response:
            found = services(request)
            engine = found.db.engine if mutating else found.db.read_engine
            session = Session(bind=engine, expire_on_commit=False)
            try:
                return await _run(request, session, handler, found, mutating)
            finally:
                await run_in_threadpool(session.close)

        return route_handler


async def _run(
    request: Request,
    session: Session,
    handler: Callable[[Request], Coroutine[Any, Any, Response]],
    found: Services,
    mutating: bool,
) -> Response:
    session.begin()
    principal = await run_in_threadpool(authenticate, session, request.headers.get("authorization"))
    request.state.session = session
    request.state.principal = principal
    key = request.headers.get("idempotency-key") if mutating else None
    request_hash = ""
    if key is not None:
        idempotency.check_key(key)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        request_hash = idempotency.fingerprint(request.method, target, await request.body())
        try:
            stored = await run_in_threadpool(
                idempotency.begin,
                session,
                merchant_id=principal.merchant_id,
                key=key,
                request_hash=request_hash,
                method=request.method,
                path=target,
                ttl=timedelta(hours=found.settings.idempotency_ttl_h),
            )
        except IntegrityError:
            # A concurrent request with this key committed first: answer as it did.
            await run_in_threadpool(session.rollback)
            stored = await run_in_threadpool(
                _stored_after_race, session, principal.merchant_id, key, request_hash
            )
        if stored is not None:
            await run_in_threadpool(session.rollback)
            return _replay(stored, found.secret, principal.merchant_id, key)

    try:
        response = await handler(request)
    except Exception:
        await _abandon(request, session, principal.merchant_id, key)
        raise
    if response.status_code >= 400:
        await _abandon(request, session, principal.merchant_id, key)
        return response
    if key is not None:
        await run_in_threadpool(
            idempotency.complete,
            session,
            merchant_id=principal.merchant_id,
            key=key,
            status_code=response.status_code,
            # Responses can carry secrets (a new API key): stored encrypted, like other secrets.
            body=encrypt(
                found.secret, bytes(response.body).decode(), _context(principal.merchant_id, key)
            ),
        )
    await run_in_threadpool(session.commit)
    return response


def _stored_after_race(
    session: Session, merchant_id: str, key: str, request_hash: str
) -> idempotency.StoredResponse:
    with session.begin():
        record = idempotency.find(session, merchant_id, key)
        if record is None:  # the other request rolled back after all: its effect is gone
            raise idempotency.IdempotencyKeyInUse(
                "a concurrent request with this Idempotency-Key did not finish; retry",
                param="Idempotency-Key",
            )
        return idempotency.replay(record, request_hash)


async def _abandon(request: Request, session: Session, merchant_id: str, key: str | None) -> None:
    """The request failed: roll back, and free its key if a checkpoint committed the claim."""
    await run_in_threadpool(session.rollback)
    if key is not None and getattr(request.state, "checkpointed", False):
        await run_in_threadpool(_release_claim, session, merchant_id, key)


def _release_claim(session: Session, merchant_id: str, key: str) -> None:
    with session.begin():
        idempotency.release(session, merchant_id, key)


def _context(merchant_id: str, key: str) -> str:
    return f"idempotency:{hashlib.sha256(f'{merchant_id}:{key}'.encode()).hexdigest()}"


def _replay(
    stored: idempotency.StoredResponse, secret: str, merchant_id: str, key: str
) -> Response:
    return Response(
        content=decrypt(secret, stored.body, _context(merchant_id, key)),
        status_code=stored.status_code,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )
