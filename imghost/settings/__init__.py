"""Settings: the start-up configuration, the run-time settings, and how they change."""
