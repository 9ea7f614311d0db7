"""Cockpit start-up with the kubernetes backend installed but not configured, against it excluded.

The kubernetes plugin module is imported at every start-up (entry points), so it must not pull in the
official client (~0.4 s of imports). Each figure runs in fresh interpreters, the same code both ways:
the only difference is whether the ``kubernetes`` entry point of the ``cockpit.backends`` group is
kept or filtered out before the cockpit loads its plugins.

  cli plugins   wall time of ``python -m cockpit.cli plugins`` (lists entry points; imports none)
  PluginHost    PluginHost() + backends(): loads and registers every plugin (what the TUI does)
  importtime    ``python -X importtime``: total import time of that start-up (noisy: +-20 ms run to run)
  modules       which modules the start-up loaded in each variant (deterministic)
  reference     what an eager ``import kubernetes.client`` at module import would have added

    python benchmarks/bench_k8s_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

# Runs in the child: optionally hide the kubernetes entry point, then do the start-up step.
PRELUDE = """
import importlib.metadata as md, sys
EXCLUDE = {exclude!r}
if EXCLUDE:
    _orig = md.entry_points
    def entry_points(**kw):
        eps = _orig(**kw)
        if kw.get("group") == "cockpit.backends":
            return md.EntryPoints(ep for ep in eps if ep.name not in EXCLUDE)
        return eps
    md.entry_points = entry_points
"""

CLI = (
    PRELUDE
    + """
import runpy
sys.argv = ["cockpit", "plugins"]
try:
    runpy.run_module("cockpit.cli", run_name="__main__")
except SystemExit:
    pass
"""
)

HOST = (
    PRELUDE
    + """
import time
t0 = time.perf_counter()
from cockpit.plugins import PluginHost
host = PluginHost()
names = sorted(host.backends())
dt = time.perf_counter() - t0
assert not host.failures, host.failures
print(f"{{dt:.6f}} {{int('kubernetes' in sys.modules)}} {{','.join(names)}} {{','.join(sorted(sys.modules))}}")
"""
)


MODULE = """
import sys, time
import cockpit.plugins
t0 = time.perf_counter()
import cockpit_backends.kubernetes
print(f"{time.perf_counter() - t0:.6f} {int('kubernetes' in sys.modules)}")
"""


def _run(code: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *extra, "-c", code], capture_output=True, text=True, check=True)


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    _run(code)
    return time.perf_counter() - t0


def _host(code: str) -> tuple[float, bool, str, set[str]]:
    dt, k8s, names, modules = _run(code).stdout.split()
    return float(dt), k8s == "1", names, set(modules.split(","))


def _importtime(code: str) -> float:
    """Total import time (seconds): the sum of the top-level imports' cumulative figures."""
    total = 0
    for line in _run(code, "-X", "importtime").stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        if len(parts[2]) - len(parts[2].lstrip()) == 1:  # top level: its cumulative covers its children
            total += int(parts[1])
    return total / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    variants = {"with kubernetes": set(), "without": {"kubernetes"}}
    samples: dict[str, dict[str, list]] = {v: {"cli": [], "host": [], "imp": []} for v in variants}
    seen: dict[str, tuple[bool, str]] = {}
    modules: dict[str, set[str]] = {}
    for _ in range(args.runs):  # interleaved, so drift (caches, load) hits both alike
        for label, excl in variants.items():
            samples[label]["cli"].append(_wall(CLI.format(exclude=excl)))
            dt, loaded, names, modules[label] = _host(HOST.format(exclude=excl))
            samples[label]["host"].append(dt)
            seen[label] = (loaded or seen.get(label, (False, ""))[0], names)
            samples[label]["imp"].append(_importtime(HOST.format(exclude=excl)))
    module = [_run(MODULE).stdout.split() for _ in range(args.runs)]
    module_s = statistics.median(float(m[0]) for m in module)
    module_k8s = any(m[1] == "1" for m in module)
    ref = statistics.median(
        float(
            _run(
                "import time; t = time.perf_counter(); import kubernetes.client, kubernetes.config; "
                "print(time.perf_counter() - t)"
            ).stdout
        )
        for _ in range(max(5, args.runs // 3))
    )
    med = {v: {k: statistics.median(x) for k, x in d.items()} for v, d in samples.items()}
    print(f"cockpit start-up, median of {args.runs} fresh interpreters each, variants interleaved")
    print(f"{'':18}{'cli plugins':>13}{'PluginHost':>13}{'importtime':>13}  kubernetes imported?  backends")
    for label in variants:
        m = med[label]
        loaded, names = seen[label]
        print(
            f"{label:18}{m['cli'] * 1e3:>10.1f} ms{m['host'] * 1e3:>10.1f} ms{m['imp'] * 1e3:>10.1f} ms"
            f"  {'YES' if loaded else 'no':<20}  {names}"
        )
    w, wo = med["with kubernetes"], med["without"]
    print(
        f"{'difference':18}{(w['cli'] - wo['cli']) * 1e3:>+10.1f} ms{(w['host'] - wo['host']) * 1e3:>+10.1f} ms"
        f"{(w['imp'] - wo['imp']) * 1e3:>+10.1f} ms"
    )
    extra = sorted(modules["with kubernetes"] - modules["without"])
    print(
        f"modules loaded: {len(modules['with kubernetes'])} with, {len(modules['without'])} without; "
        f"only with: {', '.join(extra) or 'none'}"
    )
    print(
        f"import cockpit_backends.kubernetes alone: {module_s * 1e3:.2f} ms "
        f"(kubernetes client imported: {'YES' if module_k8s else 'no'})"
    )
    print(f"reference: an eager 'import kubernetes.client, kubernetes.config' would add {ref * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
