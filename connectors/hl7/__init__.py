"""HL7 v2 over MLLP: framing, parsing, mapping to commands and ACKs."""
