"""gthfx (个体户分型): yearly typing and categorising of individual businesses."""

__version__ = "0.1.0"
