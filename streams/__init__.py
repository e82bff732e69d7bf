"""Stream processors: the Faust app, projection agents and detectors."""
