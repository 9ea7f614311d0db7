"""Package data: the embedded default configuration (cockpit.toml) and the bundled themes."""
