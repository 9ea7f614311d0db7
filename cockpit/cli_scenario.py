"""`cockpit scenario from-journal` and `cockpit scenario from-prometheus`: a drill scenario from your own
history, and the drill's fourth column, "as it happened", for a scenario that records one.

Bad input (an unreadable journal, a window with no data, no prometheus backend configured) is one
sentence and exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.engine.drill import Scorecard
    from cockpit_backends.mock.draft import Draft

AS_IT_HAPPENED = "as it happened"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("scenario", help="generate a drill scenario from a journal or from Prometheus")
    sub = p.add_subparsers(dest="scenario_command", required=True)
    j = sub.add_parser("from-journal", help="a scenario (with what happened, for --compare) from a cockpit journal")
    j.add_argument("journal", help="the journal: a SQLite file written by the engine or by `cockpit drill --journal`")
    j.add_argument("--out", required=True, help="the scenario file to write, e.g. incident.toml")
    j.add_argument(
        "--detection-delay",
        type=float,
        default=30.0,
        help="seconds between a regression's onset and the cockpit seeing it (default 30)",
    )
    j.set_defaults(func=from_journal_command)
    pr = sub.add_parser("from-prometheus", help="a scenario from the configured prometheus backend over a window")
    pr.add_argument("--start", required=True, help="the window's start: epoch seconds or an ISO date-time")
    pr.add_argument("--end", required=True, help="the window's end: epoch seconds or an ISO date-time")
    pr.add_argument("--step", type=float, default=15.0, help="range-query resolution in seconds (default 15)")
    pr.add_argument("--out", required=True, help="the scenario file to write, e.g. incident.toml")
    pr.add_argument(
        "--ready-query", default="", help="PromQL of each tier's ready replicas (default: kube-state-metrics')"
    )
    pr.add_argument("--desired-query", default="", help="PromQL of each tier's desired replicas")
    pr.add_argument(
        "--utilisation-query",
        default="",
        help="PromQL of each tier's serving utilisation, 0-1, by revision (default: vLLM's KV-cache usage)",
    )
    pr.set_defaults(func=from_prometheus_command)
    return p


def write_scenario(d: Draft, out: str) -> int:
    """Validate the generated text as a hand-written scenario is, then write it whole (or not at all)."""
    from cockpit.errors import ConfigError
    from cockpit_backends.mock.draft import checked

    text = d.render()
    sc = checked(text, out)
    path = Path(out)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(
            f"--out {out}: cannot write the scenario ({exc.strerror or exc.__class__.__name__})"
        ) from None
    tenants = len(sc.tenants) + sum(c.tenants for c in sc.cohorts)
    print(f"wrote {out}: {tenants} tenant(s), {len(sc.events)} event(s); drill it with `cockpit drill {out} --compare`")
    return 0


def _name(out: str, default: str) -> str:
    """The scenario's name: the output file's stem, when it is a usable name."""
    from cockpit.errors import name_problem

    stem = Path(out).stem
    return stem if stem and not name_problem(stem) else default


def from_journal_command(args: argparse.Namespace) -> int:
    from cockpit.engine.journal import Journal
    from cockpit.errors import ConfigError
    from cockpit_backends.mock.from_journal import draft

    ref = str(args.journal)
    if not Path(ref).is_file():
        raise ConfigError(f"journal {ref}: no such file")
    if not 0 <= args.detection_delay <= 86_400:
        raise ConfigError(f"--detection-delay {args.detection_delay:g}: expected 0 to 86400 seconds")
    try:
        journal = Journal(ref, verify=False, read_only=True)
    except ConfigError:
        raise
    except Exception as exc:  # not SQLite, or not a journal: one sentence
        raise ConfigError(f"journal {ref}: cannot be read as a cockpit journal ({exc.__class__.__name__})") from None
    try:
        d = draft(journal.entries(), ref, args.detection_delay, _name(args.out, "from-journal"))
    except Exception as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"journal {ref}: cannot be read as a cockpit journal ({exc.__class__.__name__})") from None
    finally:
        journal.close()
    return write_scenario(d, args.out)


def _epoch(text: str, option: str) -> float:
    import datetime as dt

    from cockpit.errors import ConfigError

    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected epoch seconds or an ISO date-time") from None
    return (when if when.tzinfo else when.astimezone()).timestamp()


def _prometheus_settings(args: argparse.Namespace) -> Any:
    from cockpit.errors import ConfigError
    from cockpit.paths import find_config
    from cockpit.schema import read_toml
    from cockpit_backends.prometheus.config import parse

    source = find_config(args.config)
    if source is None or source.embedded:
        raise ConfigError("scenario from-prometheus: no configuration file; pass --config with a [plugins.prometheus]")
    plugins = read_toml(source.path, "configuration file").get("plugins", {})
    raw = plugins.get("prometheus") if isinstance(plugins, dict) else None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source.path}: no prometheus backend configured ([plugins.prometheus] with url and checks)")
    return parse(raw, str(Path(source.path).parent))


def _progress(done: int, total: int) -> None:
    import sys

    end = "\n" if done == total else ""
    print(f"\rcockpit: reading Prometheus: {done}/{total} windows ({done * 100 // total} %)", end=end, file=sys.stderr)
    sys.stderr.flush()


def from_prometheus_command(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from cockpit.errors import ConfigError
    from cockpit_backends.prometheus import history
    from cockpit_backends.prometheus.client import PrometheusClient

    start, end = _epoch(args.start, "--start"), _epoch(args.end, "--end")
    if not end > start:
        raise ConfigError(f"--end {args.end}: the window ends before it starts")
    if not 0.001 <= args.step <= 86_400 or (end - start) / args.step > 10_000_000:
        raise ConfigError(f"--step {args.step:g}: expected 0.001 to 86400 seconds, at most 10 million steps")
    s = _prometheus_settings(args)
    q = history.queries(
        s,
        args.ready_query or history.READY_QUERY,
        args.desired_query or history.DESIRED_QUERY,
        args.utilisation_query or history.UTILISATION_QUERY,
    )
    client = PrometheusClient(s.url, s.timeout_s, os.environ.get(s.token_env, "") if s.token_env else "")

    async def run() -> history.Gathered:
        try:
            return await history.Reader(client, s, q).gather(start, end, args.step, _progress)
        finally:
            await client.aclose()

    g = asyncio.run(run())
    name = _name(args.out, "from-prometheus")
    return write_scenario(history.draft(g, s, q, start, end, args.step, name), args.out)


def as_it_happened(scenario: str) -> list[Scorecard]:
    """The fourth column of `cockpit drill --compare`: [] for a scenario without `[recorded]` changes."""
    from cockpit.engine.drill import Scorecard
    from cockpit_backends.mock.replay import replay
    from cockpit_backends.mock.scenario import load_scenario

    _path, sc = load_scenario(scenario)
    card = replay(sc)
    if card is None:
        return []
    declared, restored = card["declared_at_s"], card["restored_at_s"]
    return [
        Scorecard(
            scenario=sc.scenario.name,
            strategy=AS_IT_HAPPENED,
            restored=restored is not None,
            time_to_restore_s=None if restored is None or declared is None else max(0.0, restored - declared),
            lower_bound_s=card["lower_bound_s"],
            wrong_answers=card["wrong_answers"],
            dropped_requests=card["dropped_requests"],
            peak_old_utilisation=card["peak_old_utilisation"],
            min_old_hit_rate=card["min_old_hit_rate"],
            extra_cost=card["extra_cost"],
            disturbed_tenants=card["disturbed_tenants"],
            declared_at_s=declared,
            onset_s=card["onset_s"],
            stages=card["stages"],
            scope=card["scope"],
        )
    ]
