"""Everything that touches submitted code: the contract, the sandboxed worker and its protocol.

Only the worker process executes a submission; the parent side (runner) sees its outputs as bytes.
This package's __init__ imports nothing heavy: the worker must start single-threaded.
"""
