"""Framing between the trusted parent and the worker: a JSON header plus an optional raw payload.

A frame is a 4-byte big-endian header length, the UTF-8 JSON header, then `nbytes` raw payload bytes
(numpy arrays travel as raw little-endian bytes with their dtype and shape in the header). The parent
never unpickles anything the worker sends; it bounds every length it reads. Stdlib only.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time

MAX_HEADER_BYTES = 1 << 20
#: The batch range the worker exports for, [1, MAX_BATCH]; the measurer refuses a program that claims any other.
MAX_BATCH = 4096

#: The failure reasons the worker may report: its contract checks (build.ContractError) and worker.describe.
#: It runs submitted code, which holds its answer pipe and can write any frame: the trusted side reads a worker's
#: other reason (device_unavailable would stop the whole grading run with a usage error) as a protocol error.
WORKER_REASONS = frozenset({"no_model", "not_weights", "weights_format", "pickled_model_refused", "weights_mismatch",
                            "weights_missing", "not_exportable", "exited", "import_error", "memory_limit", "exception"})


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame, or closed the pipe."""


class Deadline(Exception):
    """The other side did not answer in time."""


def send(fd: int, header: dict, payload: bytes | memoryview = b"") -> None:
    """Write one frame to `fd`."""
    header = dict(header, nbytes=len(payload))
    data = json.dumps(header).encode()
    _write_all(fd, struct.pack(">I", len(data)) + data)
    if len(payload):
        _write_all(fd, payload)


def receive(fd: int, deadline: float | None = None, max_payload: int = 1 << 34) -> tuple[dict, bytes]:
    """Read one frame from `fd`, giving up at `deadline` (time.monotonic()) and on oversized frames."""
    (size,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if size > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {size} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    try:
        header = json.loads(_read_exact(fd, size, deadline))
    except (ValueError, RecursionError) as exc:  # RecursionError: a header nested 10^5 deep, which stopped the run
        raise ProtocolError(f"malformed header ({exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("nbytes", 0), int):
        raise ProtocolError("malformed header (not an object with an integer nbytes)")
    nbytes = header.get("nbytes", 0)
    if not 0 <= nbytes <= max_payload:
        raise ProtocolError(f"payload of {nbytes} bytes, at most {max_payload} expected")
    return header, _read_exact(fd, nbytes, deadline) if nbytes else b""


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data).cast("B")
    while len(view):
        written = os.write(fd, view[: 1 << 20])
        view = view[written:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, remaining = [], n
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise Deadline()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("the other side closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
