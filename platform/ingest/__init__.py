"""Ingest: MQTT (shared subscription) -> decode/validate -> dedupe -> COPY -> ack after commit."""
