"""The order of each flow of a session's life, each in one module (``end``: the door)."""
