"""Where evaluation jobs run: a local process pool by default, a Ray cluster on request, and
the cache of finished jobs either way.

Every job runs in a process of its own that runs nothing else (`max_tasks_per_child=1`
locally, `max_calls=1` on Ray), so no state a job leaves behind (torch's RNG, thread pools,
module caches) can reach the next one: a job's result depends on its spec alone, and one job,
several, or a Ray cluster give the same numbers. Finished results are kept as JSON under the
cache dir, named by the spec's key; a job whose key is there is not run again.

Ray (`pip install tickdesk[ray]`): `--ray local` starts a local instance, any other value is
the address of a running cluster whose workers can import tickdesk (the local checkout is
put on their PYTHONPATH, which is enough on one machine or a shared file system).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from engine import paths
from engine.evaluation.jobs import run_job_dict, spec_to_dict
from engine.evaluation.spec import JobSpec

OnDone = Callable[[JobSpec, bool], None]  # (job, came from the cache)


class RayUnavailable(RuntimeError):
    """--ray was asked for and ray is not installed (or cannot connect)."""


class JobCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None  # absent, or a file cut short by a crash: run the job again

    def put(self, key: str, result: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(".tmp")
        tmp.write_text(json.dumps(result), encoding="utf-8")
        tmp.replace(self._path(key))


def default_cache() -> JobCache:
    return JobCache(paths.user_cache_dir() / "evaluate")


def default_jobs() -> int:
    return os.cpu_count() or 1


def run_jobs(specs: list[JobSpec], cache: JobCache, *, jobs: int, ray_address: str | None = None,
             on_done: OnDone | None = None) -> dict[str, dict[str, Any]]:
    """key -> result for every spec, from the cache where it is there, run otherwise."""
    results: dict[str, dict[str, Any]] = {}
    todo: list[JobSpec] = []
    for spec in specs:
        hit = cache.get(spec.key)
        if hit is not None:
            results[spec.key] = hit
            if on_done:
                on_done(spec, True)
        elif spec.key not in {s.key for s in todo}:
            todo.append(spec)
    run = _run_on_ray if ray_address else _run_on_pool
    for spec, result in run(todo, jobs, ray_address):
        cache.put(spec.key, result)
        results[spec.key] = result
        if on_done:
            on_done(spec, False)
    return results


def _run_on_pool(specs: list[JobSpec], jobs: int, _address: str | None):
    if not specs:
        return
    context = multiprocessing.get_context("spawn")  # no torch state forked into a worker
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(specs))), mp_context=context,
                             max_tasks_per_child=1) as pool:
        futures = {pool.submit(run_job_dict, spec_to_dict(s)): s for s in specs}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _run_on_ray(specs: list[JobSpec], jobs: int, address: str | None):
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs ray: pip install 'tickdesk[ray]'") from None
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [str(paths.CODE_ROOT),
                                                                   os.environ.get("PYTHONPATH")]))}}
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address == "local":
                ray.init(num_cpus=max(1, jobs), runtime_env=env, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
            raise RayUnavailable(f"--ray {address}: {exc}") from None
    try:
        remote = ray.remote(num_cpus=1, max_calls=1)(run_job_dict)
        pending = {remote.remote(spec_to_dict(s)): s for s in specs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()
