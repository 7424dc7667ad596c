"""A Python client of the HTTP API (`proofmind serve`), on httpx.

    from proofmind.client import Client

    with Client("http://127.0.0.1:8650", api_key="pmk_…") as api:
        for record in api.iter_records(kind="model"):
            print(record["name"], api.lineage(record["key"]))
        report = api.verify_file("data/train.csv", record=1)
        for alert in api.stream_alerts():
            print(alert["severity"], alert["explanation"])

Every error the server answers with (an RFC 9457 problem document) is raised as
:class:`ApiError`, whose message is the server's ``detail`` — the CLI's wording.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from proofmind.errors import ProofmindError

API = "/api/v1"


class ApiError(ProofmindError):
    """The server refused a request; ``status`` and the ``problem`` document say why."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(str(problem.get("detail") or problem.get("title") or status))


class Client:
    """Calls one proofmind server. ``http`` may be any ``httpx.Client`` (FastAPI's TestClient
    included); by default one is made for ``base_url``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8650",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._own = http is None
        self.api_key = api_key

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self.http.close()

    # -- plumbing ------------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        return response

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        response = self.http.get(API + path, params=query, headers=self._headers())
        return self._check(response).json()

    def _text(self, path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        return self._check(self.http.get(API + path, params=query, headers=self._headers())).text

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(API + path, json=body, headers=self._headers())
        return self._check(response).json()

    def _pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self._get(path, cursor=cursor, **params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    # -- records and lineage -------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        return dict(self._get("/overview"))

    def records(
        self, *, kind: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page: ``{"items": [...], "next_cursor": ...}``."""
        return dict(self._get("/records", kind=kind, limit=limit, cursor=cursor))

    def iter_records(
        self, *, kind: str | None = None, limit: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every record (of ``kind``), page after page."""
        return self._pages("/records", kind=kind, limit=limit)

    def record(self, ref: str | int) -> dict[str, Any]:
        return dict(self._get(f"/records/{ref}"))

    def lineage(
        self, ref: str | int | None = None, *, format: str = "prov", direction: str | None = None
    ) -> Any:
        """PROV-JSON (default) or the JSON export as a dict; ``dot`` as text. ``direction``:
        ancestors (default), descendants or both."""
        path = "/lineage" if ref is None else f"/records/{ref}/lineage"
        text = self._text(path, format=format, direction=direction)
        return text if format == "dot" else json.loads(text)

    # -- verify --------------------------------------------------------------------------

    def verify_path(self, path: str) -> dict[str, Any]:
        """Verify a file or folder named relative to the server's project folder."""
        response = self.http.post(API + "/verify", json={"path": path}, headers=self._headers())
        return dict(self._check(response).json())

    def verify_file(
        self, file: str | Path | bytes, *, record: str | int, filename: str | None = None
    ) -> dict[str, Any]:
        """Upload a dataset or model file and verify it as ``record``."""
        if isinstance(file, bytes):
            content, name = file, filename or "upload"
        else:
            content, name = Path(file).read_bytes(), filename or Path(file).name
        response = self.http.post(
            API + "/verify",
            files={"file": (name, content, "application/octet-stream")},
            data={"record": str(record)},
            headers=self._headers(),
        )
        return dict(self._check(response).json())

    # -- oracle --------------------------------------------------------------------------

    def oracle_models(self, *, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """One page of the packaged models, by name."""
        return dict(self._get("/oracle/models", limit=limit, cursor=cursor))

    def iter_oracle_models(self, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/oracle/models", limit=limit)

    def oracle_requests(
        self, *, state: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        return dict(self._get("/oracle/requests", state=state, limit=limit, cursor=cursor))

    def oracle_request(self, request_id: int) -> dict[str, Any]:
        return dict(self._get(f"/oracle/requests/{request_id}"))

    def create_request(
        self, model: str, values: list[float], *, mode: str = "zk", callback_gas: int = 0
    ) -> dict[str, Any]:
        """Ask the oracle for an inference (needs an API key)."""
        body = {"model": model, "values": values, "mode": mode, "callback_gas": callback_gas}
        response = self.http.post(API + "/oracle/requests", json=body, headers=self._headers())
        return dict(self._check(response).json())

    # -- alerts --------------------------------------------------------------------------

    def alerts(
        self,
        *,
        detector: str | None = None,
        subject: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        since: str | float | None = None,
        until: str | float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of alerts, newest first; ``since`` / ``until`` bound their times (ISO 8601,
        unix seconds, or a span before now such as ``24h``)."""
        return dict(
            self._get(
                "/alerts",
                detector=detector,
                subject=subject,
                severity=severity,
                status=status,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        )

    def alert(self, alert_id: int) -> dict[str, Any]:
        return dict(self._get(f"/alerts/{alert_id}"))

    def mutes(self, *, every: bool = False) -> list[dict[str, Any]]:
        """The mutes that hold now (``every``: the ended ones too), oldest first."""
        return list(self._get("/mutes", all=str(every).lower())["items"])

    def mute(
        self, subject: str, span: str = "24h", *, detector: str | None = None, reason: str = ""
    ) -> dict[str, Any]:
        """Silence ``subject``'s alerts (``detector``'s, or all) for ``span`` (``2h``, ``7d``):
        stored and listed, not delivered. Needs an API key."""
        body = {"subject": subject, "for": span, "detector": detector, "reason": reason}
        return dict(self._post("/mutes", body))

    def unmute(self, mute_id: int) -> dict[str, Any]:
        """End mute ``mute_id`` now. Needs an API key."""
        return dict(self._post(f"/mutes/{mute_id}/end", {}))

    def deliveries(
        self,
        *,
        status: str | None = None,
        sink: str | None = None,
        alert: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of the deliveries to sinks, newest first (``status="dead"``: the dead
        letters; ``sink``: a sink's name or kind; ``alert``: one alert's). Needs an API key."""
        return dict(
            self._get(
                "/deliveries", status=status, sink=sink, alert=alert, limit=limit, cursor=cursor
            )
        )

    def redeliver(
        self, ids: list[int] | None = None, *, every: bool = False, sink: str | None = None
    ) -> dict[str, Any]:
        """Queue dead letters again (``ids``, or ``every`` one, of ``sink`` only if given):
        ``{"queued": [...], "skipped": [...]}``. Needs an API key."""
        body = {"ids": ids or [], "all": every, "sink": sink}
        return dict(self._post("/deliveries/redeliver", body))

    def stream_alerts(
        self, *, after: int | None = None, timeout: float | None = None, **filters: str
    ) -> Iterator[dict[str, Any]]:
        """Alerts as they are stored (Server-Sent Events); ``after``: first those stored
        after that alert id. Runs until the caller stops iterating or the server closes."""
        params = {k: v for k, v in {**filters, "after": after}.items() if v is not None}
        with self.http.stream(
            "GET",
            API + "/alerts/stream",
            params=params,
            headers=self._headers({"Accept": "text/event-stream"}),
            timeout=httpx.Timeout(timeout or 30.0, read=timeout),
        ) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            event, data = "message", list[str]()
            for line in response.iter_lines():
                if line == "":
                    if data and event == "alert":
                        yield json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif line.startswith("event:"):
                    event = line[6:].strip()

    # -- rewards and service -------------------------------------------------------------

    def reward_epochs(self, *, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """One page of the distributor's epochs, oldest first."""
        return dict(self._get("/rewards/epochs", limit=limit, cursor=cursor))

    def iter_reward_epochs(self, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/rewards/epochs", limit=limit)

    def reward_epoch(self, epoch: int) -> dict[str, Any]:
        return dict(self._get(f"/rewards/epochs/{epoch}"))

    def reward_claim(self, epoch: int, account: str) -> dict[str, Any]:
        """What ``account`` passes to the distributor's ``claim`` for ``epoch``: amount,
        Merkle proof, and whether it has been claimed."""
        return dict(self._get(f"/rewards/epochs/{epoch}/claims/{account}"))

    def reward_claims(
        self, epoch: int, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of the payouts of ``epoch``, in its tree's order."""
        return dict(self._get(f"/rewards/epochs/{epoch}/claims", limit=limit, cursor=cursor))

    def iter_reward_claims(self, epoch: int, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages(f"/rewards/epochs/{epoch}/claims", limit=limit)

    def chain(self) -> dict[str, Any]:
        return dict(self._get("/chain"))

    def contracts(self, *, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """One page of the workspace's deployments on its chain, by name."""
        return dict(self._get("/contracts", limit=limit, cursor=cursor))

    def iter_contracts(self, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages("/contracts", limit=limit)

    # -- agents and sybil reports ----------------------------------------------------------

    def agents(self) -> dict[str, Any]:
        return dict(self._get("/agents"))

    def decisions(
        self,
        *,
        policy: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        return dict(
            self._get("/agents/decisions", policy=policy, status=status, limit=limit, cursor=cursor)
        )

    def iter_decisions(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every decision matching ``filters`` (policy, status), newest first, page by page."""
        return self._pages("/agents/decisions", **filters)

    def agent_policies(
        self, safe: str, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of the grants of guarded Safe ``safe`` (every agent ever granted)."""
        return dict(self._get(f"/agents/safes/{safe}/policies", limit=limit, cursor=cursor))

    def agent_policy(self, safe: str, agent: str | int) -> dict[str, Any]:
        """The grant of ``agent`` (an account index or an address) on ``safe``'s guard."""
        return dict(self._get(f"/agents/safes/{safe}/policies/{agent}"))

    def grant_policy(
        self, safe: str, policy: str, *, owners: list[int] | None = None
    ) -> dict[str, Any]:
        """Write the policy TOML at ``policy`` (relative to the server's project folder) to
        the guard (needs an API key)."""
        return dict(
            self._post(f"/agents/safes/{safe}/policies", {"policy": policy, "owners": owners})
        )

    def revoke_policy(
        self,
        safe: str,
        agent: str | int,
        *,
        owners: list[int] | None = None,
        by_agent: bool = False,
    ) -> dict[str, Any]:
        """Revoke ``agent``'s grant (needs an API key); the grant as it is afterwards."""
        body = {"owners": owners, "by_agent": by_agent}
        return dict(self._post(f"/agents/safes/{safe}/policies/{agent}/revoke", body))

    def pause_guard(
        self, safe: str, *, guardian: int | None = None, owners: list[int] | None = None
    ) -> dict[str, Any]:
        """Stop every agent of ``safe``'s guard (needs an API key)."""
        body = {"guardian": guardian, "owners": owners}
        return dict(self._post(f"/agents/safes/{safe}/pause", body))

    def unpause_guard(self, safe: str, *, owners: list[int] | None = None) -> dict[str, Any]:
        """Lift a pause (needs an API key)."""
        return dict(self._post(f"/agents/safes/{safe}/unpause", {"owners": owners}))

    def start_sybil_run(
        self, edges: list[str], candidates: str, *, out: str = "sybil", **options: Any
    ) -> dict[str, Any]:
        """Start `sybil detect` on files of the server's project folder (needs an API key):
        the job, whose ``url`` :meth:`sybil_run` follows. ``options``: hub_degree, hubs,
        min_cluster, labels, max_fpr."""
        body = {"edges": edges, "candidates": candidates, "out": out, **options}
        return dict(self._post("/sybil/runs", body))

    def sybil_run(self, job_id: str) -> dict[str, Any]:
        return dict(self._get(f"/sybil/runs/{job_id}"))

    def wait_sybil_run(self, job_id: str, *, timeout: float = 600.0) -> dict[str, Any]:
        """Poll the run until it is done or failed (or ``timeout`` seconds pass)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            job = self.sybil_run(job_id)
            if job["status"] != "running" or time.monotonic() > deadline:
                return job
            time.sleep(0.2)

    def sybil_report(self) -> dict[str, Any]:
        return dict(self._get("/sybil/report"))

    def sybil_clusters(self, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        return dict(self._get("/sybil/clusters", limit=limit, cursor=cursor))

    # -- fraud scores ----------------------------------------------------------------------

    def fraud_score(
        self, address: str, *, explain: int = 0, model: str | int | None = None
    ) -> dict[str, Any]:
        """P(illicit) of ``address`` (``status`` "no data" and no score when it has no
        transaction in the service's tables). ``model``: a model record (local key or 0x id)
        to score with instead of the service's configured model file."""
        return dict(
            self._get(
                f"/fraud/scores/{address}",
                explain=explain or None,
                model=None if model is None else str(model),
            )
        )

    def fraud_scores(
        self, addresses: list[str], *, explain: int = 0, model: str | int | None = None
    ) -> list[dict[str, Any]]:
        """Scores of up to 1,000 addresses in one request (needs an API key)."""
        body = {"addresses": addresses, "explain": explain}
        params = {} if model is None else {"model": str(model)}
        response = self.http.post(
            API + "/fraud/scores", json=body, params=params, headers=self._headers()
        )
        return list(self._check(response).json()["items"])

    def health(self) -> dict[str, Any]:
        response = self.http.get("/health", headers=self._headers())
        if response.status_code not in (200, 503):
            self._check(response)
        return dict(response.json())


__all__ = ["ApiError", "Client"]
