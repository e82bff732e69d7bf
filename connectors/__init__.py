"""Connectors between the outside world and HEALS events."""
