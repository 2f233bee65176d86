"""The reference platform side: the platform consumer (ingest, dedupe, acks) and the operator console.

It speaks the MQTT contract through `sync`'s transport and contract modules; `sync` never imports it.
"""
