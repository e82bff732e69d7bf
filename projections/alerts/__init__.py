"""The alerts projection: alert rows in PostgreSQL, a live feed over Redis, and the HTTP API."""
