"""The local Knative Kafka Broker: ingress, dispatchers and dead letters, driven by `eventing/`."""
