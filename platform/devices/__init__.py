"""Device registry: edge agents, the sensors registered under them, their MQTT credentials."""
