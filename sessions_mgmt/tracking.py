"""Public: ``sync(request)``, for a view that needs the row of a sign-in made earlier in
the same request (it is otherwise written when the response goes out). The flows
themselves live in ``internal/flows/``."""

from .internal.flows.request import sync

__all__ = ["sync"]
