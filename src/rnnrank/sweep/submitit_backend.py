"""The Slurm backend through submitit: one job array, requeued on preemption.

``submitit.AutoExecutor`` submits to Slurm where there is one and runs local processes otherwise
(``cluster="local"`` forces those, ``"debug"`` runs in this process). The submitted callable is
``Checkpointable``: when Slurm preempts or times out a job, submitit requeues the same call, and
the job resumes its runs from their checkpoints (run directories are the state). The log folder
``<sweep>/submitit`` must be on a shared filesystem, as must the sweep.
"""

from __future__ import annotations

from pathlib import Path

import submitit

from .jobs import record_failure, run_job


class SweepJob(submitit.helpers.Checkpointable):
    """``run_job`` as a checkpointable callable (requeue = call again; it resumes from disk)."""

    def __call__(self, job: dict) -> list[dict]:
        return run_job(job)


def run_submitit(jobs: list[dict], out: Path, *, on_result, partition: str | None = None,
                 time: int = 60, cpus_per_job: int = 1, gpus_per_job: int = 0,
                 mem_gb: float | None = None, parallelism: int | None = None,
                 cluster: str | None = None) -> list[dict]:
    """Submit ``jobs`` as one array; ``time`` in minutes per job; wait and collect.

    ``cluster``: None picks Slurm when available (else local processes); ``"local"``,
    ``"debug"`` or ``"slurm"`` force one.
    """
    executor = submitit.AutoExecutor(folder=Path(out) / "submitit", cluster=cluster)
    params = dict(name="rnnrank-sweep", timeout_min=int(time), cpus_per_task=cpus_per_job)
    if gpus_per_job:
        params["gpus_per_node"] = gpus_per_job
    if mem_gb is not None:
        params["mem_gb"] = mem_gb
    if executor.cluster == "slurm":
        params["slurm_array_parallelism"] = parallelism or len(jobs)
        if partition is not None:
            params["slurm_partition"] = partition
    executor.update_parameters(**params)
    submitted = executor.map_array(SweepJob(), jobs)
    results: list[dict] = []
    for job, sub in zip(jobs, submitted, strict=True):
        try:
            res = sub.result()
        except Exception as exc:  # noqa: BLE001 — submitit raises FailedJobError and others
            res = record_failure(job, f"submitit job {sub.job_id} failed: "
                                 f"{type(exc).__name__}: {str(exc)[-500:]}")
        results.extend(res)
        on_result(res)
    return results
