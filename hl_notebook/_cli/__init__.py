"""The ``hl-notebook`` command line."""
