"""Interaction models of the paper (MODELS.md sections 1-4). Get one by name with :func:`get_model`."""
from .registry import Model, StatePoint, available_models, get_model

__all__ = ["Model", "StatePoint", "available_models", "get_model"]
