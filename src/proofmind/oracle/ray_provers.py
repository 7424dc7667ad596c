"""The oracle node's provers on a Ray cluster (``--provers ray://HOST:PORT``).

An ``Executor`` the node uses in place of its local process pool. Each proof is one Ray task
that asks the scheduler for the memory the pre-flight estimate gives for its circuit
(:func:`proofmind.ml.zk.estimate` at the package's logrows), so a worker never takes more proofs
than it can hold. A task whose worker dies is run again elsewhere by Ray (``max_retries``); when
Ray gives up, the node sees the same ``BrokenProcessPool`` as when a local prover dies, and
puts the request back in its queue. Proving has no side effect — the node alone records the
answer and sends it, from its own ledger — so a retry cannot answer twice.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from proofmind.errors import InputError
from proofmind.ml import zk

RETRIES = 3


def is_ray_address(value: str) -> bool:
    return value.startswith("ray://") or value in {"auto", "local"}


def task_memory(args: tuple[Any, ...]) -> int:
    """Bytes to reserve for a proof task: the pre-flight estimate of its package's circuit."""
    for arg in args:
        if isinstance(arg, zk.Package):
            return int(zk.estimate(arg.logrows)[1] * 2**20)
    return 0


class RayProvers(Executor):
    """Proofs as Ray tasks on the cluster at ``address`` (``local``: a Ray on this machine)."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        if not is_ray_address(address):
            raise InputError(
                f"{address!r} is not a Ray address",
                hint="use ray://HOST:10001, auto (a cluster this machine is in) or local",
            )
        from proofmind.provenance.chunked import ray_init

        self.address = address
        self._ray = ray_init(None if address == "local" else address, workers)
        self._started_here = address == "local"

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        ray = self._ray
        options: dict[str, Any] = {"max_retries": RETRIES, "retry_exceptions": False}
        memory = task_memory(args)
        if memory:
            options["memory"] = memory
        ref = ray.remote(**options)(fn).remote(*args, **kwargs)
        done: Future[Any] = Future()

        def settle(result: Future[Any]) -> None:
            try:
                done.set_result(result.result())
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
                # Ray ran out of retries on lost workers: the node's "a prover died" path
                done.set_exception(BrokenProcessPool(str(exc).splitlines()[0]))
            except ray.exceptions.RayTaskError as exc:  # the prover's own error (ProofmindError)
                done.set_exception(exc.as_instanceof_cause())
            except BaseException as exc:  # noqa: BLE001 - any other failure goes to the waiter
                done.set_exception(exc)

        ref.future().add_done_callback(settle)
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
