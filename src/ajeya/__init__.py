"""Ajeya: a hospital information system that keeps patient care going through a cyberattack."""

__version__ = "0.1.0"
