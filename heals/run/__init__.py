"""Running every HEALS component together: `heals up` and `heals demo`."""
