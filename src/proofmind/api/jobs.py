"""Long work started by a request and followed by polling: 202 Accepted with the job's URL,
then GET that URL for ``running``, ``done`` (with the result) or ``failed`` (with the error in
the CLI's words). One job of a kind runs at a time; the last few are remembered."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proofmind.api.problems import ApiProblem, status_of
from proofmind.errors import NotFound, ProofmindError

KEEP = 20


@dataclass
class Job:
    id: str
    kind: str
    started_at: float = field(default_factory=time.time)
    status: str = "running"
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_json(self, url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "url": url,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": self.result,
            "error": self.error,
        }


class Jobs:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, kind: str, work: Callable[[], dict[str, Any]]) -> Job:
        """Run ``work`` on a thread of its own; 409 while a job of ``kind`` runs."""
        with self._lock:
            if any(j.kind == kind and j.status == "running" for j in self._jobs.values()):
                raise ApiProblem(
                    409,
                    f"a {kind} job is running already",
                    hint="wait for it (GET its URL) and start again",
                    slug="job-running",
                )
            job = Job(secrets.token_hex(8), kind)
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].status == "running":
                    break
                del self._jobs[oldest]

        def run() -> None:
            try:
                job.result = work()
                job.status = "done"
            except ProofmindError as exc:
                job.error = {"status": status_of(exc), "detail": str(exc)}
                job.status = "failed"
            except Exception as exc:  # a bug: said so, without a traceback to the client
                import logging

                logging.getLogger("proofmind.api").exception("job %s failed", job.id)
                job.error = {"status": 500, "detail": f"internal error: {type(exc).__name__}"}
                job.status = "failed"
            finally:
                job.finished_at = time.time()

        threading.Thread(target=run, name=f"job-{kind}-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(
                f"no job {job_id[:40]!r} on this server",
                hint="jobs are kept in memory: the last 20, until the server restarts",
            )
        return job
