"""Where the cockpit finds its configuration and keeps its state, wherever it is installed.

The configuration is the first of: ``--config FILE``, ``$COCKPIT_CONFIG``, ``./cockpit.toml``, the user's
configuration directory (``~/.config/cockpit/cockpit.toml`` on Linux), else the embedded default, a
demo on the fleet simulator that ships inside the package. The embedded default keeps its journal and
simulated world under the user's state directory (``~/.local/state/cockpit`` on Linux), never next to
the installed package.

Package data (the embedded ``cockpit.toml``, the themes) is read with ``importlib.resources``, so a
wheel, a ``pipx`` install and an editable checkout behave the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from cockpit.config import Config

APP = "cockpit"
ENV_CONFIG = "COCKPIT_CONFIG"
ENV_STATE = "COCKPIT_STATE_DIR"  # overrides the user's state directory (tests, containers)
FILENAME = "cockpit.toml"
DATA = "cockpit.data"


class ConfigSource(NamedTuple):
    """Which configuration the cockpit uses, and why.

    ``path`` is the file whose folder relative paths (journal, lock, state files) resolve against: the
    file itself, or for the embedded default a ``cockpit.toml`` in the state directory that need not
    exist. ``text`` is the embedded default's contents (None: read ``path``).
    """

    origin: str  # "--config", "COCKPIT_CONFIG", "./cockpit.toml", "user config", "embedded default"
    path: Path
    text: str | None = None

    @property
    def embedded(self) -> bool:
        return self.text is not None

    def describe(self) -> str:
        """One phrase for the screen's title and stderr: ``config: ./cockpit.toml (/abs/path)``."""
        if self.embedded:
            return f"embedded default (state in {self.path.parent})"
        return f"{self.path} ({self.origin})"


def user_config_file() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP, appauthor=False) / FILENAME


def state_dir() -> Path:
    """The user's state directory for the embedded default's journal and world (created on demand)."""
    override = os.environ.get(ENV_STATE)
    if override:
        return Path(override)
    from platformdirs import user_state_path

    return user_state_path(APP, appauthor=False)


def embedded_config_text() -> str:
    from importlib import resources  # here: a start-up with a cockpit.toml of its own never reads these

    return (resources.files(DATA) / FILENAME).read_text(encoding="utf-8")


def theme_resources() -> dict[str, Traversable]:
    """The bundled themes by name (``dark``, ``light``, …)."""
    from importlib import resources

    folder = resources.files(DATA) / "themes"
    found = [t for t in folder.iterdir() if t.name.endswith(".toml")] if folder.is_dir() else []
    return {t.name.removesuffix(".toml"): t for t in sorted(found, key=lambda t: t.name)}


def find_config(explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> ConfigSource:
    """The configuration to use, in the documented order. A file named by --config or $COCKPIT_CONFIG
    must exist (a typo is an error, not a silent demo); the later places are only looked at."""
    found = config_file(explicit, cwd=cwd)
    if found is not None:
        return found
    state = state_dir()
    return ConfigSource("embedded default", state / FILENAME, embedded_config_text())


def config_file(explicit: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> ConfigSource | None:
    """`find_config` without the embedded default: the file found, or None when the default applies (a
    one-shot command asks this before it loads anything: which engine runs the configuration found)."""
    from cockpit.errors import ConfigError

    if explicit:
        path = Path(explicit)
        if not path.is_file():
            what = "not a file" if path.exists() else "not found"
            raise ConfigError(f"--config {path}: configuration file {what}")
        return ConfigSource("--config", path.resolve())
    env = os.environ.get(ENV_CONFIG)
    if env:
        path = Path(env)
        if not path.is_file():
            what = "not a file" if path.exists() else "not found"
            raise ConfigError(f"{ENV_CONFIG}={env}: configuration file {what}")
        return ConfigSource(ENV_CONFIG, path.resolve())
    here = (cwd or Path.cwd()) / FILENAME
    if here.is_file():
        return ConfigSource(f"./{FILENAME}", here.resolve())
    user = user_config_file()
    if user.is_file():
        return ConfigSource("user config", user.resolve())
    return None


def load_found(source: ConfigSource, *, require_pins: bool = True) -> Config:
    """Load and validate the configuration `source` names; `config.source` says where it came from."""
    import msgspec

    from cockpit.config import ConfigFile, build_config, load_config
    from cockpit.schema import convert

    if not source.embedded:
        config = load_config(source.path, require_pins=require_pins)
    else:
        import tomllib

        source.path.parent.mkdir(parents=True, exist_ok=True)
        raw = convert(tomllib.loads(source.text or ""), ConfigFile, "embedded default cockpit.toml")
        config = build_config(source.path, raw, require_pins=require_pins)
    return msgspec.structs.replace(config, source=source.describe())


def discover(explicit: str | os.PathLike[str] | None = None, *, require_pins: bool = True) -> Config:
    """find_config + load_found: the configuration every command runs on."""
    return load_found(find_config(explicit), require_pins=require_pins)
