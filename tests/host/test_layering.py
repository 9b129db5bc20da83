"""Dependencies point one way (architecture.md): roles use security and proto, which use crypto and
hal; crypto and proto know nothing of roles or boards; the firmware never imports host code."""
import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "firmware" / "lib" / "meterseal"
BASE = {"meterseal", "meterseal.compat", "meterseal.civil"}
ALLOWED = {
    "crypto": BASE | {"meterseal.crypto"},
    "proto": BASE | {"meterseal.crypto", "meterseal.proto"},
    "hal": BASE | {"meterseal.hal"},
    "security": BASE | {"meterseal.crypto", "meterseal.proto", "meterseal.hal",
                        "meterseal.security"},
}


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def _package(name):
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "meterseal" and len(parts) > 1 else name


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_lies_below(layer):
    bad = []
    for f in sorted((LIB / layer).glob("*.py")):
        for name in _imports(f):
            if name.startswith("meterseal") and _package(name) not in ALLOWED[layer] \
                    and name not in ALLOWED[layer]:
                bad.append("%s imports %s" % (f.relative_to(LIB), name))
    assert not bad, "\n".join(bad)


def test_firmware_never_imports_host_code():
    bad = [str(f.relative_to(LIB)) for f in LIB.rglob("*.py")
           if any(n.startswith(("host_tools", "cryptography", "cbor2", "serial", "Crypto"))
                  for n in _imports(f) if f.name != "compat.py")]
    assert not bad, bad
