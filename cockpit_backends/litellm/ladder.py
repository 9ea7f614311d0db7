"""The share ladder: model groups on the LiteLLM proxy that split one alias between two revisions.

A LiteLLM team's ``model_aliases`` maps a model name to one model group, so switching a team's alias
moves all of its traffic at once. To move a team by a fraction, the proxy's config holds a *ladder*:
one model group per share step, each with two deployments, the old revision weighted ``100 - p`` and
the new one ``p`` (LiteLLM's default ``simple-shuffle`` routing picks a deployment in proportion to
its ``weight``). Moving a team to share ``p`` is pointing its alias at the group ``<alias>@<p>``.
The ends hold one deployment each (a weight of 0 is still picked when every other deployment of the
group is cooling down), so share 0 can never reach the new revision.

`read_ladder` reads the groups back from ``GET /model/info`` (served from the config, with or without
a database) and computes each group's share as LiteLLM routes it; `ladder_config` writes the
``model_list`` to paste into the proxy's config (``python -m cockpit_backends.litellm.ladder``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from typing import Any


def _same_model(model: Any, revision: str) -> bool:
    """`model` is a deployment's ``litellm_params.model`` ("anthropic/claude-…" or bare)."""
    return isinstance(model, str) and bool(revision) and (model == revision or model.endswith("/" + revision))


def _weight(params: Mapping[str, Any]) -> float:
    w = params.get("weight")
    return float(w) if isinstance(w, int | float) and not isinstance(w, bool) and w > 0 else 0.0


def group_share(deployments: Iterable[Mapping[str, Any]], old: str, new: str) -> float | None:
    """The share of a model group's requests that reach `new`, as LiteLLM's simple-shuffle picks:
    in proportion to ``weight`` when any deployment has one (an unweighted one then gets none),
    else uniformly. None when the group holds a deployment of anything but `old` and `new`."""
    weights: list[tuple[bool, float]] = []
    for d in deployments:
        params = d.get("litellm_params") or {}
        model = params.get("model")
        if _same_model(model, new):
            weights.append((True, _weight(params)))
        elif _same_model(model, old):
            weights.append((False, _weight(params)))
        else:
            return None
    if not weights:
        return None
    total = sum(w for _, w in weights)
    if total > 0:
        return sum(w for is_new, w in weights if is_new) / total
    return sum(1 for is_new, _ in weights if is_new) / len(weights)


def read_ladder(model_info: Any, old: str, new: str) -> dict[str, float]:
    """Model group -> share on `new`, for every group of ``GET /model/info``'s answer that splits
    between `old` and `new` only. Raises ValueError (one phrase) for an answer of the wrong shape."""
    data = model_info.get("data") if isinstance(model_info, Mapping) else None
    if not isinstance(data, list):
        raise ValueError("GET /model/info answered without a 'data' list")
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for d in data:
        if isinstance(d, Mapping) and isinstance(d.get("model_name"), str):
            groups.setdefault(d["model_name"], []).append(d)
    out: dict[str, float] = {}
    for name, deployments in groups.items():
        share = group_share(deployments, old, new)
        if share is not None:
            out[name] = share
    return out


def pick_group(ladder: Mapping[str, float], share: float, alias: str, tolerance: float = 1e-6) -> str | None:
    """The group serving `share`; the ``<alias>@<percent>`` one when several do; None when none does."""
    matches = sorted(g for g, s in ladder.items() if abs(s - share) <= tolerance)
    if not matches:
        return None
    named = f"{alias}@{round(share * 100)}"
    return named if named in matches else matches[0]


def ladder_config(alias: str, old: str, new: str, step: int = 1, params: Mapping[str, Any] | None = None) -> list[dict]:
    """The proxy config's ``model_list`` for a ladder of `step`-percent steps from 0 to 100. `old` and
    `new` are the ``litellm_params.model`` values (e.g. ``anthropic/claude-opus-4-20250514``); `params`
    is copied into every deployment (api_base, api_key: ``os.environ/…``)."""
    if not 1 <= step <= 50 or 100 % step:
        raise ValueError(f"step must divide 100 (1, 2, 4, 5, 10, 20, 25 or 50), not {step}")
    extra = dict(params or {})
    out: list[dict] = []
    for p in range(0, 101, step):
        for model, weight in ((old, 100 - p), (new, p)):
            if weight > 0:
                out.append(
                    {"model_name": f"{alias}@{p}", "litellm_params": {"model": model, **extra, "weight": weight}}
                )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m cockpit_backends.litellm.ladder",
        description="Print a LiteLLM proxy config (JSON, which YAML reads) with a share ladder for one alias.",
    )
    ap.add_argument("--alias", required=True, help="the model name teams call, e.g. claude-opus")
    ap.add_argument("--old", required=True, help="litellm_params.model of the old revision")
    ap.add_argument("--new", required=True, help="litellm_params.model of the new revision")
    ap.add_argument("--step", type=int, default=1, help="share step in percent (default 1: what the router asks)")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="litellm_params for each")
    args = ap.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.param if "=" in p)
    try:
        models = ladder_config(args.alias, args.old, args.new, args.step, params)
    except ValueError as exc:
        ap.error(str(exc))
    print(json.dumps({"model_list": models}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
