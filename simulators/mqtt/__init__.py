"""Test and demo infrastructure for MQTT: a private Mosquitto or NATS cluster, and a fault proxy."""
