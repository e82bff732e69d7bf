"""Integration tests of the HL7 v2 connector against the real write side, Kafka and PostgreSQL."""
