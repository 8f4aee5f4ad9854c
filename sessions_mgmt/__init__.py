"""See and end every session signed in to an account."""
