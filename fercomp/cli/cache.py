"""`fercomp cache`: show the cache of exported programs and prune it (a thin shell over submission.export_cache)."""

from __future__ import annotations

import typer


def cache(
    prune: bool = typer.Option(False, help="Remove the least recently used programs until the cache fits --max-mb."),
    max_mb: int = typer.Option(None, min=0, help="The bound to prune to, MB (default $FERCOMP_EXPORT_CACHE_MB, else "
                               "2048; 0 empties it)."),
) -> None:
    """Show the cache of exported programs (where, how many, how large, its bound), or prune it.

    A pruned program costs only a re-export when its hand-in is scored again. Exit code 0.
    """
    from fercomp.submission import export_cache

    where = export_cache.folder()
    limit = export_cache.limit_bytes() if max_mb is None else max_mb << 20
    if prune:
        removed = _empty(export_cache.entries(where)) if max_mb == 0 else export_cache.prune(limit, where)
        freed = sum(e.size for e in removed)
        typer.echo(f"removed {len(removed)} exported program(s), {freed / 2**20:.1f} MB, least recently used first")
    cached = export_cache.entries(where)
    total = sum(e.size for e in cached)
    bound = f"{limit / 2**20:.0f} MB" if limit else "none"
    typer.echo(f"{where}: {len(cached)} exported program(s), {total / 2**20:.1f} MB; bound {bound} "
               "($FERCOMP_EXPORT_CACHE_MB; scoring evicts the least recently used beyond it)")


def _empty(cached):
    from fercomp.submission import export_cache

    for entry in cached:
        export_cache.remove(entry.path)
    return cached


def register(app: typer.Typer) -> None:
    app.command()(cache)
