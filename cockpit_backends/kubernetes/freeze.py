"""Freeze on incident: suspend the CronJobs that drive scheduled rollouts, and only those.

The CronJobs are the ones matching the configured label selector. Declaring suspends each that is
not suspended already, marking it with the ``cockpit.dev/suspended-by`` annotation in the same merge
patch; releasing un-suspends exactly the ones carrying that mark and removes it. The mark lives on
the object, not in this process, so a cockpit restarted mid-incident still knows which CronJobs it
froze, and one an operator had suspended by hand stays suspended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client

from cockpit_backends.kubernetes.api import MERGE_PATCH, KubernetesError, call_sync
from cockpit_backends.kubernetes.options import SUSPENDED_ANNOTATION, FreezeRef


class CronJobFreezer:
    def __init__(self, api: client.ApiClient, ref: FreezeRef, timeout_s: float) -> None:
        self.batch = client.BatchV1Api(api)
        self.ref = ref
        self.timeout = timeout_s

    def _list(self) -> list[dict[str, Any]]:
        ref = self.ref
        jobs = call_sync(
            f"list CronJobs in {ref.namespace} matching {ref.selector!r}",
            self.batch.list_namespaced_cron_job,
            ref.namespace,
            label_selector=ref.selector,
            _request_timeout=self.timeout,
        )
        return list(jobs.get("items") or [])

    def _patch(self, name: str, body: Mapping[str, Any], verb: str) -> None:
        call_sync(
            f"{verb} CronJob {self.ref.namespace}/{name}",
            self.batch.patch_namespaced_cron_job,
            name,
            self.ref.namespace,
            dict(body),
            _content_type=MERGE_PATCH,
            _request_timeout=self.timeout,
        )

    def freeze(self, incident: Mapping[str, Any]) -> list[str]:
        """Suspend every matching CronJob not already suspended; the names suspended."""
        mark = str(incident.get("id") or "incident")
        patch = {"metadata": {"annotations": {SUSPENDED_ANNOTATION: mark}}, "spec": {"suspend": True}}
        # a job suspended by someone else is left alone, and left suspended on release
        jobs = [j for j in self._list() if not (j.get("spec") or {}).get("suspend")]
        return self._patch_each(jobs, patch, "suspend", "suspended")

    def thaw(self, incident: Mapping[str, Any]) -> list[str]:
        """Un-suspend the CronJobs this cockpit suspended (those carrying its mark)."""
        patch = {"metadata": {"annotations": {SUSPENDED_ANNOTATION: None}}, "spec": {"suspend": False}}
        jobs = [j for j in self._list() if SUSPENDED_ANNOTATION in (j["metadata"].get("annotations") or {})]
        return self._patch_each(jobs, patch, "resume", "resumed")

    def _patch_each(
        self, jobs: Sequence[Mapping[str, Any]], patch: dict[str, Any], verb: str, done_word: str
    ) -> list[str]:
        """Patch every job, going on past failures; raise one sentence if any failed. The names patched."""
        done, errors = [], []
        for job in jobs:
            name = job["metadata"]["name"]
            try:
                self._patch(name, patch, verb)
                done.append(name)
            except KubernetesError as exc:
                errors.append(str(exc))
        if errors:
            raise KubernetesError(f"{len(errors)} CronJob(s) not {done_word}; first: {errors[0]}")
        return done
