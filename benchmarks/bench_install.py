"""Install footprint: venv size and `cockpit --version` start-up, core install against `cockpit[all]`,
and the Kubernetes clients side by side (official `kubernetes` against `lightkube` and `kr8s`).

    python benchmarks/bench_install.py            # core vs [all]
    python benchmarks/bench_install.py --k8s      # also: the three Kubernetes clients

Each variant is a fresh venv (no system site-packages) with the wheel built from this checkout, packages
from the index (pip's cache makes reruns quick). Sizes are of the whole venv's site-packages (pip and
setuptools excluded, the same in every venv); start-up is the median of 7 runs of `cockpit --version`
from an empty directory; import time is the median of 7 `python -c "import X"` runs, a fresh process each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "cockpit", "cockpit_backends")
BASELINE = ("pip", "setuptools", "_distutils_hack", "distutils-precedence.pth", "pkg_resources")


def build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)]
    subprocess.run(cmd, check=True, capture_output=True)
    return next(dist.glob("cockpit-*.whl"))


def venv(tmp: Path, name: str, *requirements: str) -> Path:
    path = tmp / name
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if requirements:
        subprocess.run([*pip, *requirements], check=True)
    return path


def site_size(path: Path) -> int:
    (site,) = (path / "lib").glob("python3*/site-packages")
    total = 0
    for entry in site.iterdir():
        if entry.name.split("-")[0] in BASELINE or entry.name in BASELINE:
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total


def median_run(cmd: list[str], cwd: Path, n: int = 7) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k8s", action="store_true", help="also measure the Kubernetes clients")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-install-") as t:
        tmp = Path(t)
        empty = tmp / "empty"
        empty.mkdir()
        wheel = build_wheel(tmp)
        print(f"{'install':<22}{'site-packages':>14}{'cockpit --version':>20}")
        for name, req in (("core", str(wheel)), ("[all]", f"cockpit[all] @ {wheel.as_uri()}")):
            v = venv(tmp, name.strip("[]"), req)
            size = site_size(v)
            start = median_run([str(v / "bin" / "cockpit"), "--version"], empty)
            print(f"{'cockpit ' + name:<22}{size / 1e6:>11.1f} MB{start * 1000:>17.0f} ms")
        if args.k8s:
            print()
            print(f"{'Kubernetes client':<22}{'installed':>14}{'import':>20}")
            base = venv(tmp, "bare")
            bare = site_size(base)
            for dist, module in (("kubernetes", "kubernetes.client"), ("lightkube", "lightkube"), ("kr8s", "kr8s")):
                v = venv(tmp, f"k8s-{dist}", dist)
                size = site_size(v) - bare
                imp = median_run([str(v / "bin" / "python"), "-c", f"import {module}"], empty)
                py = median_run([str(v / "bin" / "python"), "-c", "pass"], empty)
                print(f"{dist:<22}{size / 1e6:>11.1f} MB{(imp - py) * 1000:>17.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
