"""Errors services raise for people: the message is shown as is."""


class ServiceError(ValueError):
    """A request that cannot be carried out; ``str(exc)`` says why, for a person."""
