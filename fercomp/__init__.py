"""fercomp: score, rank and study FER-2013 model-competition submissions."""

__version__ = "0.1.0"
