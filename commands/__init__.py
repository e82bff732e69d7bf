"""Write side: command models, aggregates, handlers and the relay to Kafka."""
