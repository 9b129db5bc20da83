"""The firmware as a board runs it: compiled with mpy-cross, and "frozen".

On a board the firmware is frozen into the MicroPython image (boards/*/manifest.py): its bytecode
and strings stay in flash and take no heap. The unix port cannot be rebuilt here, so the simulator
models that: it runs the .mpy files of build/mpy (what `make mpy` makes), imports every firmware
module at boot, and gets the board's heap PLUS the RAM that this bytecode takes once imported
(measured here, per firmware build). What is left for data is then what the real board has.
"""
import json
import os
import subprocess
import sys

from .paths import FIRMWARE, ROOT

BUILD = ROOT / "build" / "mpy"
_MEASURE = r"""
import gc, sys
mods = sys.argv[1:]
gc.collect()
a = gc.mem_alloc()
for m in mods:
    __import__(m)
gc.collect()
print(gc.mem_alloc() - a)
"""


# The real boards' HAL modules import `machine`, which the unix port lacks; in the simulator
# hal/sim.py stands in for them.
_BOARD_ONLY = ("meterseal.hal.machine_", "meterseal.hal.chip_")


def modules():
    """Every firmware module a simulated board holds, sorted by name."""
    lib = FIRMWARE / "lib"
    out = []
    for f in sorted(lib.rglob("*.py")):
        rel = f.relative_to(lib).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if not name.startswith(_BOARD_ONLY):
            out.append(name)
    return out


def build():
    """Compile the changed firmware files into build/mpy (as `make mpy`); return the lib folder."""
    src = FIRMWARE / "lib"
    dest_root = BUILD / "lib"
    for f in sorted(src.rglob("*.py")):
        dest = (dest_root / f.relative_to(src)).with_suffix(".mpy")
        if dest.exists() and dest.stat().st_mtime >= f.stat().st_mtime:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(tmp), str(f)], check=True)
        os.replace(tmp, dest)
    for stale in dest_root.rglob("*.mpy"):  # a module deleted from the source
        if not (src / stale.relative_to(dest_root)).with_suffix(".py").exists():
            stale.unlink()
    return dest_root


def footprint(micropython):
    """Heap bytes the whole firmware's bytecode takes once imported (cached per build)."""
    lib = build()
    mods = modules()
    stamp = max((lib / m.replace(".", "/")).with_suffix(".mpy").stat().st_mtime
                if (lib / m.replace(".", "/")).with_suffix(".mpy").exists()
                else (lib / m.replace(".", "/") / "__init__.mpy").stat().st_mtime for m in mods)
    cache = BUILD / "footprint.json"
    if cache.exists():
        c = json.loads(cache.read_text())
        if c.get("stamp") == stamp and c.get("modules") == mods:
            return c["bytes"]
    env = dict(os.environ, MICROPYPATH=str(lib) + os.pathsep + ".frozen")
    proc = subprocess.run([micropython, "-X", "heapsize=8000000", "-c", _MEASURE] + mods, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("importing the firmware under MicroPython failed:\n" + proc.stdout
                           + proc.stderr)
    n = int(proc.stdout.strip())
    cache.write_text(json.dumps({"stamp": stamp, "modules": mods, "bytes": n}))
    return n


def mp_command(heap=131072):
    """argv to run code under the MicroPython unix port as on a board with `heap` bytes: the
    firmware's .mpy build on the path and, on top of the heap, the allowance for its bytecode
    that a frozen build keeps in flash. Use with mp_env()."""
    from .sim import micropython_command

    exe = micropython_command()
    return [exe, "-X", "heapsize=%d" % (heap + footprint(exe))]


def mp_env(base=None):
    env = dict(os.environ if base is None else base)
    env["MICROPYPATH"] = str(build()) + os.pathsep + ".frozen"
    return env
