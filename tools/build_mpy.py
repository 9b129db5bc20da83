"""Byte-compile the firmware as a board loads it: every firmware/**/*.py to .mpy with mpy-cross
(the version matching the interpreter), in the same tree under OUT. main.py and boot.py stay source,
as MicroPython runs only those two from .py at boot. Prints the sizes.

    python tools/build_mpy.py build/mpy
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(out):
    src = ROOT / "firmware"
    out = Path(out)
    total_py = total_mpy = 0
    for f in sorted(src.rglob("*.py")):
        rel = f.relative_to(src)
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel.parent == Path("."):
            dest.write_bytes(f.read_bytes())
            continue
        dest = dest.with_suffix(".mpy")
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(dest), str(f)], check=True)
        total_py += f.stat().st_size
        total_mpy += dest.stat().st_size
    print("%d bytes of source -> %d bytes of .mpy in %s" % (total_py, total_mpy, out))
    return 0


if __name__ == "__main__":
    sys.exit(build(sys.argv[1] if len(sys.argv) > 1 else "build/mpy"))
