"""Dependencies: the services container and the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from api.errors import ApiError
from api.services.container import Services


# Both async: a plain `def` dependency costs every request a hop through the thread pool.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The address behind a `Authorization: Bearer <token>` from /v1/auth/login."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(
            401, "NotSignedIn", "sign in first: POST /v1/auth/challenge, then /v1/auth/login"
        )
    try:
        return services.auth.verify(authorization.removeprefix("Bearer ").strip())
    except PermissionError as exc:
        raise ApiError(401, "BadToken", str(exc)) from exc


CurrentUser = Annotated[str, Depends(current_user)]
