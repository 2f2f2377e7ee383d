"""The Ray executor: a step's shards on Ray workers, one step (hence one engine) per worker.

Why Ray actors and not Ray Data: our steps already cut their work into shards of whole chunks planned over
the full request list, and resume chunk by chunk from the run store. Ray Data's ``map_batches`` would
re-batch rows its own way, so a sharded run would hand the engine other batches than a local one (other
greedy tokens) and lose chunk-exact resume. An actor per worker keeps the step's plan: each shard on Ray
does exactly what the same shard does locally, so the rows are the same, and a worker that dies is
restarted by Ray and redoes its shard from the run store (finished chunks are skipped, nothing is
generated twice). The driver writes the completion markers and runs ``finish``.

Workers need the run store on a filesystem they all see (one machine, or a shared mount on a cluster).
Each worker gets ``num_cpus`` cores and runs torch and the verifier with that many threads, so workers
on one machine do not oversubscribe its cores (two 2-thread processes on 2 cores collapse both).
"""

from __future__ import annotations

import os
from typing import Any

from r1f.errors import ConfigError
from r1f.executor import Executor, ShardMarkers
from r1f.heap import reuse_freed_memory
from r1f.step import Progress, Step, StepContext, StepStats

INSTALL_HINT = "the ray executor needs Ray: pip install 'r1-factory[ray]'"


def _worker_class() -> Any:
    import ray

    @ray.remote(max_restarts=-1, max_task_retries=-1)
    class ShardWorker:
        """One step (and its engine) per worker, reused for every shard and round the worker gets."""

        def __init__(self, step_cls: type[Step], config: Any) -> None:
            reuse_freed_memory()
            self.step = step_cls(config)

        def pid(self) -> int:
            return os.getpid()

        def run(self, state: dict[str, Any], rank: int, world: int, round_: int) -> dict[str, Any]:
            self.step.set_shard_state(state)
            return self.step.run(StepContext(rank=rank, world_size=world, round=round_)).to_dict()

        def close(self) -> None:
            self.step.close()

    return ShardWorker


class RayExecutor(Executor):
    """Shards on Ray workers (actors). ``address``: ``None`` starts a local Ray, else an existing cluster's
    address (``auto``, ``ray://host:10001``). ``resources``: what each worker asks for (``num_cpus``,
    ``num_gpus``, custom resources)."""

    def __init__(
        self, world_size: int = 2, address: str | None = None, resources: dict[str, Any] | None = None
    ) -> None:
        if world_size < 1:
            raise ConfigError(f"--workers must be at least 1, got {world_size}")
        self.world_size = world_size
        self.address = address
        self.resources = dict(resources or {"num_cpus": 1})
        self._workers: list[Any] = []
        self._for: tuple[type, Any] | None = None
        self._started = False

    # -- the cluster ------------------------------------------------------------------------------------

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ConfigError(INSTALL_HINT) from None
        if not ray.is_initialized():
            threads = str(max(1, int(self.resources.get("num_cpus", 1))))
            env = {"OMP_NUM_THREADS": threads, "R1F_THREADS": threads, "OMP_WAIT_POLICY": "PASSIVE"}
            for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "R1F_CACHE_DIR", "PYTHONPATH"):
                if os.environ.get(name):
                    env[name] = os.environ[name]
            options: dict[str, Any] = {
                "runtime_env": {"env_vars": env},
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if self.address:
                options["address"] = self.address
            else:
                options["num_cpus"] = max(self.world_size * int(self.resources.get("num_cpus", 1)), 1)
            try:
                ray.init(**options)
                self._started = not self.address
            except Exception as err:  # Ray raises ConnectionError, ValueError, RuntimeError for a bad address
                where = self.address or "a local Ray"
                raise ConfigError(
                    f"cannot start or reach Ray at {where} ({type(err).__name__}: {str(err).splitlines()[0][:160]}); "
                    "check --ray-address (ray://HOST:10001, auto, or leave it out for a local Ray)"
                ) from None
        return ray

    def _pool(self, step: Step) -> list[Any]:
        key = (type(step), step.config)
        if self._for != key:
            self.shutdown()
            ray = self._ray()
            worker = _worker_class().options(**self.resources)
            self._workers = [worker.remote(type(step), step.config) for _ in range(self.world_size)]
            self._for = key
            ray.get([w.pid.remote() for w in self._workers])  # started (and each loaded what it imports)
        return self._workers

    def worker_pids(self) -> list[int]:
        ray = self._ray()
        return ray.get([w.pid.remote() for w in self._workers])

    def shutdown(self) -> None:
        if self._workers:
            import ray

            for worker in self._workers:
                try:
                    ray.kill(worker)
                except Exception:  # already gone
                    pass
        self._workers, self._for = [], None

    # -- the contract -------------------------------------------------------------------------------------

    def run_shards(
        self, step: Step, ranks: list[int], world: int, round_: int, markers: ShardMarkers, progress: Progress | None
    ) -> None:
        ray = self._ray()
        workers = self._pool(step)
        state = step.shard_state()
        pending = {
            workers[i % len(workers)].run.remote(state, rank, world, round_): rank for i, rank in enumerate(ranks)
        }
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            rank = pending.pop(ready[0])
            stats = StepStats.from_dict(ray.get(ready[0]))
            markers.mark(round_, rank, world, stats)
            done += 1
            if progress is not None:
                progress(done, len(ranks), f"shards on {len(workers)} Ray workers")

    def execute(self, step: Step, **kwargs: Any) -> Any:
        try:
            return super().execute(step, **kwargs)
        finally:
            self.shutdown()

    def close(self) -> None:
        """Stop the workers, and the local Ray cluster when this executor started it (not a cluster it joined)."""
        self.shutdown()
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
