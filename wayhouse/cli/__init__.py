"""The ``wayhouse`` command line."""
