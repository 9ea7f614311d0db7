"""`cockpit journal verify [PATH]`: check every record's checksum and the hash chain of a journal (a SQLite
file or a redis:// URL) without opening an engine on it. Exit 0 when it verifies, 1 naming the first bad
record, 2 when it cannot be read at all."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("journal", help="journal maintenance: verify checksums and the hash chain")
    sub = p.add_subparsers(dest="journal_command", required=True)
    v = sub.add_parser("verify", help="check every record's checksum and the chain (exit 1 naming a bad record)")
    v.add_argument(
        "path",
        nargs="?",
        help="the journal: a SQLite file or redis://host:port/db?stream=name (default: the one cockpit.toml names)",
    )
    v.set_defaults(func=verify)
    return p


def verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cockpit.engine.journal import Journal, JournalCorrupt
    from cockpit.errors import ConfigError
    from cockpit.redact import redact_url

    if args.path is None:  # as timeline and evidence: the journal the configuration names
        from cockpit.paths import discover

        ref = discover(args.config, require_pins=False).journal_url
    else:
        ref = str(args.path)
    try:
        if ref.startswith(("redis://", "rediss://", "unix://")):
            from cockpit.engine.journal_redis import RedisJournal

            journal: Any = RedisJournal(ref, verify=False)
        else:
            if not Path(ref).is_file():
                raise ConfigError(f"journal {ref}: no such file")
            journal = Journal(ref, verify=False, read_only=True)
        try:
            _head, last, n = journal.verify()
        finally:
            journal.close()
    except JournalCorrupt as exc:
        print(f"cockpit: {exc}")
        return 1
    print(f"journal {redact_url(ref)}: {n} record(s) verified, chain intact up to record {last}")
    return 0
