"""cockpit backend plugin: http (being written)."""
