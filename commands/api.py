"""The command API: one POST endpoint per command kind under /commands/.

| status | body | when |
| --- | --- | --- |
| 202 | command_id, event_ids, position, duplicate | the events are committed in PostgreSQL (or were, for a repeated command_id) |
| 409 | error, rule or versions, ids | a rule rejected the command, or another writer changed the aggregate first (retry) |
| 422 | FastAPI's validation detail: loc (the field), msg, input (the value) | the body is not a valid command |

Endpoints are plain functions, so FastAPI runs them in its thread pool and
the thread-safe CommandService blocks no event loop.
"""

# No `from __future__ import annotations` here: FastAPI reads each endpoint's
# body type from the annotation, which must be the model class itself.

import logging
import threading
from typing import Any, Callable

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from heals.commands.errors import ConcurrencyConflict, RuleViolation
from heals.commands.models import COMMAND_TYPES, Command
from heals.commands.service import CommandService
from heals.settings import get_settings

__all__ = ["get_command_service", "router", "path_for"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/commands", tags=["commands"])


_service_lock = threading.Lock()


def get_command_service() -> CommandService:
    """Return the process's CommandService, opened on first use; tests replace it through app.dependency_overrides."""
    global _service
    with _service_lock:
        if _service is None:
            _service = CommandService(get_settings())
        return _service


_service: CommandService | None = None


def path_for(kind: str) -> str:
    """Return the endpoint path of a command kind, for example /commands/admit-patient."""
    return f"{router.prefix}/{kind.replace('_', '-')}"


def _execute(service: CommandService, command: Command) -> JSONResponse:
    try:
        outcome = service.execute(command)
    except (RuleViolation, ConcurrencyConflict) as exc:
        logger.info("command %s %s rejected with 409: %s", command.kind, command.command_id, exc)
        return JSONResponse(status_code=409, content=exc.to_dict())
    body: dict[str, Any] = {
        "command_id": outcome.command_id,
        "event_ids": list(outcome.event_ids),
        "position": outcome.position,
        "duplicate": outcome.duplicate,
    }
    return JSONResponse(status_code=202, content=body)


def _endpoint(model: type[Command]) -> Callable[..., JSONResponse]:
    def submit(command: model, service: CommandService = Depends(get_command_service)) -> JSONResponse:  # type: ignore[valid-type]
        return _execute(service, command)

    submit.__name__ = model.__name__
    submit.__doc__ = model.__doc__
    return submit


for _kind, _model in COMMAND_TYPES.items():
    router.add_api_route(
        f"/{_kind.replace('_', '-')}",
        _endpoint(_model),
        methods=["POST"],
        status_code=202,
        name=_kind,
        summary=(_model.__doc__ or _kind).strip().splitlines()[0],
        responses={409: {"description": "A rule rejected the command, or a concurrent writer won; see `error`."}},
    )
