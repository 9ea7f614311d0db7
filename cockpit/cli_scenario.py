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
        d = draft(journal.entries(), ref, args.detection_delay)
    except Exception as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"journal {ref}: cannot be read as a cockpit journal ({exc.__class__.__name__})") from None
    finally:
        journal.close()
    return write_scenario(d, args.out)


def from_prometheus_command(args: argparse.Namespace) -> int:
    from cockpit.errors import ConfigError

    raise ConfigError("scenario from-prometheus: not available yet")


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
