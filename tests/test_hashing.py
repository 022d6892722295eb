"""One source for sha256: the helpers agree with hashlib, and no other module hashes on its own."""

import hashlib
import re
from pathlib import Path

from fercomp import hashing


def test_helpers_agree_with_hashlib(tmp_path):
    data = bytes(range(256)) * 9000  # > 2 MiB: the file is read in several pieces
    (tmp_path / "blob").write_bytes(data)
    assert hashing.sha256_file(tmp_path / "blob") == hashlib.sha256(data).hexdigest() == hashing.sha256_bytes(data)
    assert hashing.sha256_text("é") == hashlib.sha256("é".encode("utf-8")).hexdigest()
    assert hashing.sha256_json({"b": 1, "a": [2]}) == hashing.sha256_json({"a": [2], "b": 1})
    digest = hashing.hasher()
    digest.update(data[:5])
    digest.update(data[5:])
    assert digest.hexdigest() == hashing.sha256_bytes(data)


def test_no_module_but_hashing_imports_hashlib():
    package = Path(hashing.__file__).parent
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.name != "hashing.py" and re.search(r"^\s*import hashlib|^\s*from hashlib", p.read_text(), re.M)]
    assert offenders == []
