"""Database access: migrations, storage mode (TimescaleDB or native partitions), connections."""
