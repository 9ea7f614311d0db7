"""cockpit backend plugin: kubernetes (being written)."""
