"""Mapping of HL7 v2 messages to write-side commands, one module per message family."""
