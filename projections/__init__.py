"""Read models in PostgreSQL and Redis, their queries and the HTTP API."""
