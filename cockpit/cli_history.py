"""`cockpit timeline` and `cockpit evidence`: what the journal says happened, read back."""

from __future__ import annotations

import argparse
from typing import Any


def _journal_for(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from cockpit.engine.journal import Journal
    from cockpit.errors import ConfigError

    if args.journal:
        ref = args.journal
    else:
        from cockpit.paths import discover

        ref = discover(args.config, require_pins=False).journal_url
    if ref.startswith(("redis://", "rediss://", "unix://")):
        from cockpit.engine.journal_redis import open_journal

        return open_journal(ref)
    path = Path(ref)
    if not path.is_file():
        raise ConfigError(f"{path}: journal not found (pass --journal FILE)")
    return Journal(path, durable=False)


def timeline_command(args: argparse.Namespace) -> int:
    from cockpit import timeline as tl
    from cockpit.errors import ConfigError

    if args.window < 0:
        raise ConfigError(f"--window {args.window:g}: expected a number of seconds, 0 or more")
    j = _journal_for(args)
    real = tl.is_real(j)
    window = args.window
    if args.at is None and args.since is None:
        last = j.last("fleet_adopted")
        args.since = "T+0" if not real else None
        if real and last is not None:
            args.since = tl.fmt_time(last.ts, True).rsplit(" ", 1)[0].replace(" ", "T")
    if args.at is not None:
        t = tl.parse_time(args.at, real)
        fleet = tl.fleet_at(j, t)
        if fleet is None:
            print(f"the journal has no fleet before {tl.fmt_time(t, real)}")
            return 1
        print(f"at {tl.fmt_time(t, real)}: old = {fleet.old}, new = {fleet.new}")
        if fleet.alias:
            alias_since = tl.fmt_time(fleet.alias["since"], real)
            print(f"  alias {fleet.alias['alias']} -> {fleet.alias['revision']} (since {alias_since})")
        print(f"  incident: {fleet.incident['id'] + ' open (frozen)' if fleet.incident else 'none'}")
        tenants = [args.tenant] if args.tenant else sorted(fleet.shares)
        print(f"  {'tenant':<16}{'cohort':<12}{'serving':<0}")
        for name in tenants:
            if name not in fleet.shares:
                print(f"  {name:<16}unknown tenant")
                continue
            s = fleet.shares[name]
            serving = fleet.new if s >= 1 else fleet.old if s <= 0 else f"{fleet.new} {s:.0%} / {fleet.old} {1 - s:.0%}"
            print(f"  {name:<16}{fleet.cohorts.get(name, ''):<12}{serving}")
        since, until = t - window, t + window
        print(f"changes from {tl.fmt_time(since, real)} to {tl.fmt_time(until, real)}:")
    else:
        since, until = tl.parse_time(args.since, real), float("inf")
        print(f"changes since {tl.fmt_time(since, real)}:")
    for e in tl.changes(j, since, until):
        print(f"  {tl.fmt_time(e.ts, real):>12}  {tl.describe(e)}")
    return 0


def evidence_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cockpit.evidence import write_report

    j = _journal_for(args)
    out = Path(args.out)
    write_report(j, args.incident, out)
    print(f"{out}: evidence for {args.incident}")
    return 0
