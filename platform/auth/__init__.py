"""Authentication (passwords, sessions, login throttling) and tenant scoping."""
