"""Guarded agents: the decision log, and the Safes and guards the agents act through."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access, require_json, write_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.api.schemas import GrantIn, GrantOut, GrantPage, RevokeIn, SignersIn
from proofmind.app import agents as policies
from proofmind.app.decisions import STATUSES, decision_view, guarded_safes, list_decisions
from proofmind.app.verify import project_path
from proofmind.errors import InputError

router = APIRouter(prefix="/agents", tags=["agents"], responses=ERRORS)
READ = [Depends(read_access)]
WRITE = [Depends(write_access), Depends(require_json)]
SafeName = Annotated[str, Path(max_length=64, description="the guarded Safe's name")]
Agent = Annotated[str, Path(max_length=100, description="an account index or an address")]


@router.get("", dependencies=READ)
def agents(request: Request) -> dict[str, Any]:
    """The guarded Safes (Safe and AgentGuard addresses) and decisions per status."""
    return guarded_safes(services(request).workspace)


@router.get("/decisions", dependencies=READ)
def decisions(
    request: Request,
    policy: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(description=" or ".join(STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Decisions of the agents, newest first: the alert each saw, the action chosen and what
    the on-chain guard made of it (``status``; ``guard`` says it in words)."""
    page = list_decisions(
        services(request).workspace, policy=policy, status=status, limit=limit, cursor=cursor
    )
    return page_response(request, page, decision_view)


# -- policies on a guarded Safe (`proofmind agent policy …`) -----------------------------------


@router.get("/safes/{safe}/policies", response_model=GrantPage, dependencies=READ)
def grants(
    request: Request,
    safe: SafeName,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Every agent the Safe's AgentGuard ever granted, with its grant now (active or not)."""
    svc = services(request)
    page = policies.list_policies(svc.workspace, svc.chain(), safe, limit=limit, cursor=cursor)
    return page_response(request, page, lambda g: g)


@router.get("/safes/{safe}/policies/{agent}", response_model=GrantOut, dependencies=READ)
def grant(request: Request, safe: SafeName, agent: Agent) -> dict[str, Any]:
    """The agent's grant on-chain (`proofmind agent policy show`)."""
    svc = services(request)
    return policies.show_policy(svc.workspace, svc.chain(), safe, agent)


async def _write(request: Request, work: Any) -> Any:
    svc = services(request)

    def run() -> Any:
        with svc.chain_writes:
            return work(svc.workspace, svc.chain())

    return await run_in_threadpool(run)


@router.post(
    "/safes/{safe}/policies",
    response_model=GrantOut,
    status_code=201,
    dependencies=WRITE,
    responses={415: ERRORS[400]},
)
async def grant_policy(request: Request, safe: SafeName, body: GrantIn) -> dict[str, Any]:
    """Write a policy (a TOML file in the project folder, see docs/agents.md) to the guard:
    a new grant for its agent (`proofmind agent policy grant`). Needs an API key."""
    from proofmind.agents.policy import load_policy

    policy = load_policy(project_path(services(request).workspace, body.policy))

    def work(ws: Any, chain: Any) -> dict[str, Any]:
        policy_id, granted = policies.grant_policy(ws, chain, safe, policy, body.owners)
        return policies.show_policy(ws, chain, safe, granted["agent"]) | {"policy_id": policy_id}

    return dict(await _write(request, work))


@router.post(
    "/safes/{safe}/policies/{agent}/revoke",
    response_model=GrantOut,
    dependencies=WRITE,
    responses={415: ERRORS[400]},
)
async def revoke(request: Request, safe: SafeName, agent: Agent, body: RevokeIn) -> dict[str, Any]:
    """Revoke the agent's grant at once (`proofmind agent policy revoke`). Needs an API key."""

    def work(ws: Any, chain: Any) -> dict[str, Any]:
        address = policies.revoke_policy(
            ws, chain, safe, agent, owners=body.owners, by_agent=body.by_agent
        )
        return policies.show_policy(ws, chain, safe, address)

    return dict(await _write(request, work))


def _guard_state(ws: Any, chain: Any, safe: str) -> dict[str, Any]:
    guard = policies.open_guard(ws, chain, safe)
    return {
        "name": safe,
        "guard": guard.address,
        "safe": guard.safe,
        "paused": bool(guard.contract.functions.paused().call()),
    }


@router.post("/safes/{safe}/pause", dependencies=WRITE, responses={415: ERRORS[400]})
async def pause(request: Request, safe: SafeName, body: SignersIn) -> dict[str, Any]:
    """Stop every agent of the guard at once, signed by the owners (or ``guardian``, an
    account index) (`proofmind agent policy pause`). Needs an API key."""

    def work(ws: Any, chain: Any) -> dict[str, Any]:
        policies.pause_guard(ws, chain, safe, guardian=body.guardian, owners=body.owners)
        return _guard_state(ws, chain, safe)

    return dict(await _write(request, work))


@router.post("/safes/{safe}/unpause", dependencies=WRITE, responses={415: ERRORS[400]})
async def unpause(request: Request, safe: SafeName, body: SignersIn) -> dict[str, Any]:
    """Lift a pause, signed by the owners (`proofmind agent policy unpause`). Needs an API
    key."""
    if body.guardian is not None:
        raise InputError("only the owners can unpause a guard", hint="leave out guardian")

    def work(ws: Any, chain: Any) -> dict[str, Any]:
        policies.unpause_guard(ws, chain, safe, owners=body.owners)
        return _guard_state(ws, chain, safe)

    return dict(await _write(request, work))
