"""FHIR R4: Bundle ingest and read API."""
