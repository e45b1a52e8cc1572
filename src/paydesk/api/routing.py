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

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import anyio.from_thread
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
    admission: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    """How many API requests run at once in this process (``requests_concurrent_max``)."""
    """Where this server's channel simulators are reached (``<public_url>/sandbox``), None
    when the sandbox is not mounted: pass it to ``load_connector(sandbox_base_url=...)``."""


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def _session(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


async def _idempotency_header(
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
    session: Session = request.state.session
    session.commit()
    request.state.checkpointed = True


@contextmanager
def admission_released(request: Request) -> Iterator[None]:
    """Around a wait on the network with no transaction open (a channel call), from the
    endpoint's thread: other requests may run meanwhile. The request is admitted again after."""
    admission = services(request).admission
    anyio.from_thread.run_sync(admission.release)
    try:
        yield
    finally:
        anyio.from_thread.run(admission.acquire)


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
            # A request holds a database connection from its first hop to the thread pool to
            # its last: admitting no more than the pool can serve means a request waits here,
            # holding nothing, instead of holding a thread while it waits for a connection
            # (which, under load, can leave no thread for the requests that hold connections).
            async with found.admission:
                engine = found.db.engine if mutating else found.db.read_engine
                session = Session(bind=engine, expire_on_commit=False)
                try:
                    return await _run(request, session, handler, found, mutating)
                except BaseException:
                    await run_in_threadpool(session.close)
                    raise

        return route_handler


@dataclass(frozen=True, slots=True)
class _Start:
    principal: Principal
    stored: idempotency.StoredResponse | None
    """A replay's stored answer: the request is not run again."""


def _start(
    session: Session,
    authorization: str | None,
    found: Services,
    key: str | None,
    request_hash: str,
    method: str,
    target: str,
) -> _Start:
    """Open the transaction, authenticate and claim the key: one hop to the thread pool."""
    session.begin()
    principal = authenticate(session, authorization)
    if key is None:
        return _Start(principal, None)
    try:
        stored = idempotency.begin(
            session,
            merchant_id=principal.merchant_id,
            key=key,
            request_hash=request_hash,
            method=method,
            path=target,
            ttl=timedelta(hours=found.settings.idempotency_ttl_h),
        )
    except IntegrityError:
        # A concurrent request with this key committed first: answer as it did.
        session.rollback()
        stored = _stored_after_race(session, principal.merchant_id, key, request_hash)
    if stored is not None:
        session.rollback()
    return _Start(principal, stored)


def _finish(
    session: Session, merchant_id: str, key: str | None, status_code: int, body: str | None
) -> None:
    """Store the answer for replays, commit, close: one hop to the thread pool."""
    try:
        if key is not None and body is not None:
            idempotency.complete(
                session, merchant_id=merchant_id, key=key, status_code=status_code, body=body
            )
        session.commit()
    finally:
        session.close()


async def _run(
    request: Request,
    session: Session,
    handler: Callable[[Request], Coroutine[Any, Any, Response]],
    found: Services,
    mutating: bool,
) -> Response:
    key = request.headers.get("idempotency-key") if mutating else None
    request_hash = target = ""
    if key is not None:
        idempotency.check_key(key)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        request_hash = idempotency.fingerprint(request.method, target, await request.body())
    started = await run_in_threadpool(
        _start,
        session,
        request.headers.get("authorization"),
        found,
        key,
        request_hash,
        request.method,
        target,
    )
    principal = started.principal
    if started.stored is not None:
        await run_in_threadpool(session.close)
        return _replay(started.stored, found.secret, principal.merchant_id, key or "")
    request.state.session = session
    request.state.principal = principal

    try:
        response = await handler(request)
    except Exception:
        await _abandon(request, session, principal.merchant_id, key)
        raise
    if response.status_code >= 400:
        await _abandon(request, session, principal.merchant_id, key)
        return response
    stored_body = None
    if key is not None:
        # Responses can carry secrets (a new API key): stored encrypted, like other secrets.
        stored_body = encrypt(
            found.secret, bytes(response.body).decode(), _context(principal.merchant_id, key)
        )
    await run_in_threadpool(
        _finish, session, principal.merchant_id, key, response.status_code, stored_body
    )
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
    """The request failed: roll back, free its key if a checkpoint committed the claim, close."""
    release = key if getattr(request.state, "checkpointed", False) else None
    await run_in_threadpool(_roll_back, session, merchant_id, release)


def _roll_back(session: Session, merchant_id: str, release_key: str | None) -> None:
    try:
        session.rollback()
        if release_key is not None:
            with session.begin():
                idempotency.release(session, merchant_id, release_key)
    finally:
        session.close()


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
