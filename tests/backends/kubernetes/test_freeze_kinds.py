"""The kubernetes freezer beyond CronJobs, through a real engine against the emulated API server: Argo
Rollouts paused, Flux Kustomizations suspended, an Argo CD AppProject given a deny sync window; each put
back to its prior value on release (a field that was absent is removed again, a window list is restored
exactly), what an operator froze by hand left alone, and drift re-frozen while the incident is open.
The kubernetes backend serves no role here: a [freeze] table alone is enough."""

from __future__ import annotations

import asyncio
import json

import pytest

import cockpit_backends.kubernetes
from cockpit.engine.clock import SimClock
from cockpit.engine.session import open_drill
from cockpit.errors import ConfigError
from cockpit.timeline import describe
from tests.backends.kubernetes.conftest import NS

ROLLOUTS = "argoproj.io/v1alpha1"
FLUX = "kustomize.toolkit.fluxcd.io/v1"
SEL = {"cockpit.dev/freeze": "on-incident"}
OPERATOR_WINDOW = {"kind": "allow", "schedule": "0 22 * * *", "duration": "1h", "applications": ["*"]}


def _seed(apiserver) -> None:
    def put(api, plural, kind, name, spec, labels=SEL, ns=NS):
        apiserver.put_object(
            api, plural, {"kind": kind, "metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": spec}
        )

    put(ROLLOUTS, "rollouts", "Rollout", "model-canary", {"replicas": 3})  # spec.paused absent
    put(ROLLOUTS, "rollouts", "Rollout", "held-by-hand", {"replicas": 3, "paused": True})
    put(ROLLOUTS, "rollouts", "Rollout", "other-team", {"replicas": 1}, labels={"team": "search"})
    put(FLUX, "kustomizations", "Kustomization", "models", {"interval": "5m", "suspend": False})
    put(ROLLOUTS, "appprojects", "AppProject", "models", {"syncWindows": [OPERATOR_WINDOW]}, labels={}, ns="argocd")
    apiserver.clear_requests()


def _options(apiserver) -> dict:
    return {
        "kubeconfig": str(apiserver.kubeconfig),
        "namespace": NS,
        "freeze": {
            "targets": [
                {"kind": "Rollout", "selector": "cockpit.dev/freeze=on-incident"},
                {"kind": "Kustomization", "selector": "cockpit.dev/freeze=on-incident"},
            ],
            "argocd": {"projects": ["models"], "duration": "12h"},
        },
    }


@pytest.fixture
def engine(apiserver, tmp_path):
    _seed(apiserver)
    clock = SimClock()
    s = open_drill(
        "classic",
        journal=tmp_path / "j.db",
        clock=clock,
        config_dir=tmp_path,
        plugin_options={"kubernetes": _options(apiserver)},
    )
    yield s.engine, clock
    cockpit_backends.kubernetes.forget(s.engine.context)
    s.close()


def _obj(apiserver, api, plural, name, ns=NS) -> dict:
    return apiserver.get_object(api, plural, ns, name)


def _notes(obj: dict) -> dict:
    return obj["metadata"].get("annotations") or {}


async def _reassert_round(e, clock) -> None:
    """Advance past [freeze] reassert_s, let the round started in the background finish, collect it."""
    clock.advance(31)
    await e.tick()
    watch = e.housekeeping.freeze_watch
    assert watch.task is not None, "no re-assert round started"
    await asyncio.wait_for(asyncio.shield(watch.task), 20)
    clock.advance(1)
    await e.tick()


def test_declare_freezes_each_kind_release_restores_the_prior_values(apiserver, engine):
    e, clock = engine

    async def go():
        await e.tick()
        await e.command("declare", reason="canary regression")
        frozen = {
            "canary": _obj(apiserver, ROLLOUTS, "rollouts", "model-canary"),
            "by_hand": _obj(apiserver, ROLLOUTS, "rollouts", "held-by-hand"),
            "other": _obj(apiserver, ROLLOUTS, "rollouts", "other-team"),
            "ks": _obj(apiserver, FLUX, "kustomizations", "models"),
            "project": _obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd"),
        }
        writes = apiserver.calls(writes_only=True)
        apiserver.clear_requests()
        clock.advance(5)
        await e.tick()
        await e.command("release", confirm=True)
        return frozen, writes

    frozen, writes = asyncio.run(go())
    canary = frozen["canary"]
    assert canary["spec"]["paused"] is True
    assert _notes(canary) == {"cockpit.dev/suspended-by": "INC-1", "cockpit.dev/suspended-prior": "null"}
    assert _notes(frozen["by_hand"]) == {} and frozen["by_hand"]["spec"]["paused"] is True
    assert "paused" not in frozen["other"]["spec"]  # not selected
    assert frozen["ks"]["spec"]["suspend"] is True and _notes(frozen["ks"])["cockpit.dev/suspended-prior"] == "false"
    windows = frozen["project"]["spec"]["syncWindows"]
    deny = {"kind": "deny", "schedule": "* * * * *", "duration": "12h", "applications": ["*"], "manualSync": False}
    assert windows == [OPERATOR_WINDOW, deny]
    assert writes == [
        ("PATCH", f"/apis/{ROLLOUTS}/namespaces/{NS}/rollouts/model-canary"),
        ("PATCH", f"/apis/{FLUX}/namespaces/{NS}/kustomizations/models"),
        ("PUT", f"/apis/{ROLLOUTS}/namespaces/argocd/appprojects/models"),
    ]
    merge = [r for r in apiserver.requests if r.method == "PATCH"]
    assert merge and all(r.content_type == "application/merge-patch+json" for r in merge)
    put = [r for r in apiserver.requests if r.method == "PUT"]
    assert put and all(r.body["metadata"].get("resourceVersion") for r in put)  # never a blind overwrite
    # released: each back to what it was, the marks gone, the hand-paused one still paused
    canary = _obj(apiserver, ROLLOUTS, "rollouts", "model-canary")
    assert "paused" not in canary["spec"] and _notes(canary) == {}
    assert _obj(apiserver, ROLLOUTS, "rollouts", "held-by-hand")["spec"]["paused"] is True
    ks = _obj(apiserver, FLUX, "kustomizations", "models")
    assert ks["spec"]["suspend"] is False and _notes(ks) == {}
    project = _obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd")
    assert project["spec"]["syncWindows"] == [OPERATOR_WINDOW] and _notes(project) == {}
    assert not list(e.journal.entries(kinds=("plugin_error",)))


def test_drift_is_frozen_again_while_the_incident_is_open_and_journaled(apiserver, engine):
    e, clock = engine

    async def go():
        await e.tick()
        await e.command("declare", reason="x")
        apiserver.clear_requests()
        await _reassert_round(e, clock)  # nothing drifted: nothing written, nothing journaled
        quiet = (e.journal.count("freeze_reasserted"), apiserver.calls(writes_only=True))
        apiserver.clear_requests()
        # someone resumes the canary by hand and a GitOps sync drops the deny window
        canary = _obj(apiserver, ROLLOUTS, "rollouts", "model-canary")
        canary["spec"]["paused"] = False
        apiserver.put_object(ROLLOUTS, "rollouts", canary)
        project = _obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd")
        project["spec"]["syncWindows"] = [OPERATOR_WINDOW]
        apiserver.put_object(ROLLOUTS, "appprojects", project)
        await _reassert_round(e, clock)
        entries = [x.data for x in e.journal.entries(kinds=("freeze_reasserted",))]
        lines = [describe(x) for x in e.journal.entries(kinds=("freeze_reasserted",))]
        await e.command("release", confirm=True)
        return quiet, entries, lines

    (quiet_count, quiet_writes), entries, lines = asyncio.run(go())
    assert lines == [f"freeze RE-ASSERTED by kubernetes on 2: Rollout {NS}/model-canary, AppProject argocd/models"]
    assert quiet_count == 0 and quiet_writes == []
    assert entries == [
        {
            "plugin": "kubernetes",
            "frozen_again": [f"Rollout {NS}/model-canary", "AppProject argocd/models"],
            "count": 2,
        }
    ]
    # released after the re-freeze: the canary's first prior value (absent) is what comes back
    canary = _obj(apiserver, ROLLOUTS, "rollouts", "model-canary")
    assert "paused" not in canary["spec"] and _notes(canary) == {}
    assert _obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd")["spec"]["syncWindows"] == [OPERATOR_WINDOW]


def test_a_concurrent_appproject_writer_gets_a_reread_not_an_overwrite(apiserver, engine):
    e, _ = engine
    theirs = {"kind": "deny", "schedule": "0 0 * * 6", "duration": "48h", "applications": ["billing"]}

    def writer(server):
        project = server.get_object(ROLLOUTS, "appprojects", "argocd", "models")
        project["spec"]["syncWindows"] = [*project["spec"]["syncWindows"], theirs]
        server.put_object(ROLLOUTS, "appprojects", project)

    apiserver.before_next("PUT", "/appprojects/models", writer)

    async def go():
        await e.tick()
        await e.command("declare", reason="x")

    asyncio.run(go())
    statuses = [r.status for r in apiserver.requests if r.method == "PUT"]
    assert statuses == [409, 200]
    windows = _obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd")["spec"]["syncWindows"]
    assert windows[:2] == [OPERATOR_WINDOW, theirs] and windows[2]["kind"] == "deny"
    assert (
        json.loads(_notes(_obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd"))["cockpit.dev/sync-window"])
        == windows[2]
    )


def test_a_failing_kind_does_not_stop_the_others_and_is_journaled(apiserver, engine):
    e, _ = engine
    apiserver.fail_next(1, 503, path_contains="/rollouts")

    async def go():
        await e.tick()
        await e.command("declare", reason="x")

    asyncio.run(go())
    errors = [x.data["error"] for x in e.journal.entries(kinds=("plugin_error",))]
    assert len(errors) == 1 and f"list Rollouts in {NS} matching 'cockpit.dev/freeze=on-incident': 503" in errors[0]
    assert _obj(apiserver, FLUX, "kustomizations", "models")["spec"]["suspend"] is True  # the others went on
    assert _obj(apiserver, ROLLOUTS, "appprojects", "models", "argocd")["spec"]["syncWindows"][-1]["kind"] == "deny"


@pytest.mark.parametrize(
    ("freeze", "message"),
    [
        ({}, "plugins.kubernetes.freeze: nothing to freeze"),
        (
            {"targets": [{"kind": "Deployment", "selector": "a=b"}]},
            "plugins.kubernetes.freeze.targets[0]: kind 'Deployment' is not a preset",
        ),
        (
            {"targets": [{"kind": "Rollout"}]},
            "plugins.kubernetes.freeze.targets[0].selector: expected a non-empty name",
        ),
        (
            {"targets": [{"kind": "Rollout", "selector": "a", "field": "spec.x"}]},
            "plugins.kubernetes.freeze.targets[0]: Rollout is a preset",
        ),
        (
            {
                "targets": [
                    {
                        "kind": "Pipeline",
                        "selector": "a",
                        "api_version": "ci.example.com/v1",
                        "plural": "pipelines",
                        "field": "metadata.x",
                    }
                ]
            },
            "plugins.kubernetes.freeze.targets[0].field: expected a dotted path under spec",
        ),
        ({"argocd": {"projects": []}}, "plugins.kubernetes.freeze.argocd.projects: expected a non-empty list"),
        (
            {"argocd": {"projects": ["p"], "duration": "1d"}},
            "plugins.kubernetes.freeze.argocd.duration: expected hours",
        ),
        ({"argocd": {"projects": ["p"], "colour": 1}}, "plugins.kubernetes.freeze.argocd: unknown option 'colour'"),
    ],
)
def test_bad_freeze_options_are_one_sentence(apiserver, tmp_path, freeze, message):
    with pytest.raises(ConfigError) as err:
        open_drill(
            "classic",
            journal=tmp_path / "j.db",
            config_dir=tmp_path,
            plugin_options={"kubernetes": {"kubeconfig": str(apiserver.kubeconfig), "freeze": freeze}},
        )
    assert str(err.value).startswith(message), str(err.value)


def test_plugins_check_reads_every_freeze_target_and_changes_nothing(apiserver, tmp_path):
    import subprocess
    import sys

    import tomli_w

    from tests.backends.kubernetes.conftest import options, seed

    seed(apiserver, {"acme": 1.0, "globex": 0.5})
    _seed(apiserver)
    opts = options(apiserver.kubeconfig)
    opts["freeze"] = {"cronjob_selector": "cockpit.dev/rollout=scheduled", **_options(apiserver)["freeze"]}
    config = {
        "models": {"old": "claude-opus-4-20250514", "new": "claude-opus-4-1-20250805"},
        "cockpit": {"journal": "journal.db"},
        "backends": {"router": "kubernetes", "autoscaler": "kubernetes"},
        "plugins": {"mock": {"scenario": "classic"}, "kubernetes": opts},
    }
    (tmp_path / "cockpit.toml").write_text(tomli_w.dumps(config))
    before = {k: json.dumps(v, sort_keys=True) for k, v in apiserver.objects.items()}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit.cli",
            "--config",
            str(tmp_path / "cockpit.toml"),
            "plugins",
            "check",
            "kubernetes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    freeze = [
        line.strip() for line in out.stdout.splitlines() if line.strip().startswith(("PASS  freeze", "FAIL  freeze"))
    ]
    assert freeze == [
        f"PASS  freeze     CronJobs in {NS} matching 'cockpit.dev/rollout=scheduled': 3 found, 2 to suspend, "
        "1 frozen already (0 by a cockpit, 1 by hand)",
        f"PASS  freeze     Rollouts in {NS} matching 'cockpit.dev/freeze=on-incident': 2 found, 1 to pause, "
        "1 frozen already (0 by a cockpit, 1 by hand)",
        f"PASS  freeze     Kustomizations in {NS} matching 'cockpit.dev/freeze=on-incident': 1 found, 1 to suspend",
        "PASS  freeze     AppProject argocd/models: 1 sync window(s)",
    ]
    assert {k: json.dumps(v, sort_keys=True) for k, v in apiserver.objects.items()} == before  # read-only
    assert not [r for r in apiserver.requests if r.method in ("PATCH", "PUT")]


def test_a_hung_api_server_never_queues_reassert_rounds(apiserver, tmp_path):
    from cockpit.hookspecs import BackendContext

    _seed(apiserver)
    opts = _options(apiserver)
    opts["freeze"] = {**opts["freeze"], "timeout_s": 0.2}
    ctx = BackendContext(clock=None, config_dir=str(tmp_path))
    k8s = cockpit_backends.kubernetes
    k8s.cockpit_configure(plugins={"kubernetes": opts}, context=ctx)
    try:
        apiserver.delay_next(1, 1.5, path_contains="/rollouts")
        with pytest.raises(
            TimeoutError, match=r"^Rollout pause, Kustomization suspend, Argo CD sync window freeze not"
        ):
            k8s.cockpit_freeze_reassert(incident={"id": "INC-1"}, context=ctx)
        with pytest.raises(TimeoutError, match=r"still running from the previous round$"):
            k8s.cockpit_freeze_reassert(incident={"id": "INC-1"}, context=ctx)
    finally:
        k8s.forget(ctx)  # waits for the work under way
    lists = [r for r in apiserver.requests if r.method == "GET" and r.path.endswith("/rollouts")]
    assert len(lists) == 1  # the second round was never queued behind the first
    # the first round finished in the background: the canary is paused
    assert _obj(apiserver, ROLLOUTS, "rollouts", "model-canary")["spec"]["paused"] is True
