"""Application shell: settings, logging, CLI and process supervision."""
