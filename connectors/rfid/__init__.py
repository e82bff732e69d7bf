"""RFID tag reads to locations."""
