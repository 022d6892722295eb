"""fercomp: score, rank and study FER-2013 model-competition submissions.

The notebook API (imported on first use, so `import fercomp` stays light): fercomp.check, fercomp.train,
fercomp.score, fercomp.predict, fercomp.save_submission; see fercomp/api.py.
"""

from fercomp.version import __version__

__all__ = ["check", "train", "score", "predict", "save_submission", "__version__"]


def __getattr__(name: str):
    if name in ("check", "train", "score", "predict", "save_submission"):
        from fercomp import api

        return getattr(api, name)
    raise AttributeError(f"module 'fercomp' has no attribute {name!r}")
