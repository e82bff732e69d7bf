"""Device vital-sign feeds produced straight to Kafka."""
