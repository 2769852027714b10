"""Sign in with Ethereum: only needed to read private off-chain records."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import ServicesDep
from api.errors import ApiError, responses
from api.limits import client_key, quotas
from api.schemas import ChallengeIn, ChallengeOut, LoginIn, LoginOut

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/challenge", response_model=ChallengeOut, responses=responses(422, 429))
def challenge(body: ChallengeIn, request: Request, services: ServicesDep) -> ChallengeOut:
    """A one-time message to sign with personal_sign; valid for five minutes. Each client may
    ask for `COMMONS_CHALLENGES_PER_MINUTE` (429 `ChallengeQuotaExceeded`)."""
    quotas(request).challenges.take(client_key(request))
    c = services.auth.challenge(body.address)
    return ChallengeOut(nonce=c.nonce, message=c.message, expires_at=c.expires_at)


@router.post("/login", response_model=LoginOut, responses=responses(401, 422))
def login(body: LoginIn, services: ServicesDep) -> LoginOut:
    """Exchange the signed challenge for a short-lived bearer token."""
    try:
        address, token, expires = services.auth.login(body.nonce, body.signature)
    except PermissionError as exc:
        raise ApiError(401, "BadLogin", str(exc)) from exc
    return LoginOut(address=address, token=token, expires_at=expires)
