"""See and end every session signed in to an account."""

__version__ = "0.2.0"
