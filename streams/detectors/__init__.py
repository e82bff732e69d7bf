"""Streaming early-warning and anomaly detectors: NEWS2, critical results, river and scikit-learn models."""
