"""The backends bundled with cockpit, each a subpackage registered through the ``cockpit.backends``
entry-point group exactly as a third-party plugin is (see ``pyproject.toml``). Nothing here is imported
by the cockpit itself; the plugin host loads a backend only when the configuration names it."""
