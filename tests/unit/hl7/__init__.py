"""Unit tests of the HL7 v2 connector: pure parsing, mapping and framing."""
