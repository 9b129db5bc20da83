"""Type-check the board HAL against the real boards' MicroPython 1.29 stubs (`make typecheck`).

The unix port that runs the tests has no machine.UART or machine.Pin, so the code that drives
real hardware is checked statically instead: every firmware file that imports machine, esp32
or rp2 (found by reading imports with ast, so new files are covered without a list), and every
chip_<board>.py, is run through mypy once per board, as MicroPython code:

  --custom-typeshed-dir STUBS   the stub package ships MicroPython's own stdlib (os, sys,
                                asyncio, ...) in typeshed layout; CPython's is not used
  MYPYPATH=STUBS:firmware/lib   the port modules (machine, esp32, rp2, micropython, network)
                                and the firmware package itself
  --no-site-packages            nothing installed in the venv counts as importable
  --platform esp32 | rp2        MicroPython's sys.platform: `if sys.platform == "esp32":` blocks
                                are unreachable (and their imports not followed) on the other
  --python-version 3.10         the oldest mypy 2.x accepts; mpy-cross judges the syntax
  --check-untyped-defs          the firmware has no annotations; without this mypy skips the
                                bodies of unannotated functions and would find nothing
  --follow-imports silent       modules imported from the checked files give mypy their types
                                but report nothing (compat.py imports pycryptodome for CPython)
  --warn-unused-ignores         a `# type: ignore[code]  # stub wrong: why` that a fixed stub
                                no longer needs is reported, so the excuses stay true

Errors inside the stubs themselves (the stub package has a few) are switched off per stub
module in a generated config file; errors in our files are not.

Files named chip_<board>.py belong to that board only (esp32.NVS is not on an RP2040); all
other files are checked against every board, so an unguarded `import esp32` in them fails the
rp2040 run. Each board's stubs are installed by pip into .venv/stubs/<board> (they define the
same module names, so they cannot share a folder), again only when the pin in
requirements-stubs.txt changes.

Exit status: 0 clean, 1 type errors, 2 the check could not run (pip, mypy missing).
"""
import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUBS_DIR = ROOT / ".venv" / "stubs"
REQUIREMENTS = ROOT / "requirements-stubs.txt"

# board name (boards/<name>/board.json) -> (stub package, MicroPython's sys.platform there)
BOARDS = {
    "esp32": ("micropython-esp32-esp32-generic-stubs", "esp32"),
    "rp2040": ("micropython-rp2-rpi-pico-stubs", "rp2"),
}
HARDWARE_MODULES = ("machine", "esp32", "rp2")
_CHIP_FILE = re.compile(r"^chip_([a-z0-9]+)\.py$")


class CheckError(Exception):
    """The check could not run at all (exit 2)."""


def stub_pins():
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins[re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower()] = line
    return pins


def install_stubs(board, requirement):
    """Install `requirement` into .venv/stubs/<board> unless it is there already."""
    target = STUBS_DIR / board
    stamp = target / ".requirement"
    if stamp.exists() and stamp.read_text() == requirement:
        return target
    if target.exists():
        shutil.rmtree(target)  # another pin: start clean, old files would shadow new ones
    target.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-input",
                           "--disable-pip-version-check", "--target", str(target), requirement],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise CheckError("pip could not install %s:\n%s" % (requirement, proc.stderr.strip()))
    stamp.write_text(requirement)
    return target


def imported_modules(path):
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def hardware_files(root):
    """Every .py under root that imports one of HARDWARE_MODULES, and every chip_<board>.py."""
    return sorted(p for p in Path(root).rglob("*.py")
                  if _CHIP_FILE.match(p.name) or imported_modules(p) & set(HARDWARE_MODULES))


def files_for(board, files):
    out = []
    for f in files:
        m = _CHIP_FILE.match(f.name)
        if m is None or m.group(1) == board:
            out.append(f)
    return out


def write_config(board, stubs):
    """A mypy config that silences errors inside the stubs, module by module."""
    names = set()
    for p in stubs.iterdir():
        if p.name in ("stdlib", "stubs") or p.name.startswith(".") or "." in p.name[:-4]:
            continue  # typeshed's own folders are silenced by mypy anyway; skip dist-info
        if p.suffix == ".pyi":
            names.add(p.stem)
        elif p.is_dir() and p.name.isidentifier():
            names.update((p.name, p.name + ".*"))
    cfg = stubs / "mypy.ini"
    cfg.write_text("[mypy]\n\n[mypy-%s]\nignore_errors = True\n" % ",".join(sorted(names)))
    return cfg


def mypy_command(board, stubs, files):
    platform = BOARDS[board][1]
    return [sys.executable, "-m", "mypy",
            "--config-file", str(write_config(board, stubs)),
            "--custom-typeshed-dir", str(stubs),
            "--no-site-packages",
            "--platform", platform,
            "--python-version", "3.10",
            "--check-untyped-defs",
            "--follow-imports", "silent",
            "--warn-unused-ignores",
            "--show-error-codes", "--no-color-output", "--no-error-summary",
            "--cache-dir", str(stubs / ".mypy_cache"),
            *[str(f) for f in files]]


def check_board(board, stubs, files):
    """(error lines, seconds) of one board's mypy run."""
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join([str(stubs), str(ROOT / "firmware" / "lib")])
    env.pop("PYTHONPATH", None)
    t0 = time.monotonic()
    proc = subprocess.run(mypy_command(board, stubs, files), capture_output=True, text=True,
                          env=env, cwd=ROOT)
    seconds = time.monotonic() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not lines):
        raise CheckError("mypy failed for %s:\n%s%s" % (board, proc.stdout, proc.stderr))
    return lines, seconds


def _rel(p):
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", action="append", default=None,
                    help="folder to scan for files importing %s (default: firmware; "
                         "repeatable)" % ", ".join(HARDWARE_MODULES))
    ap.add_argument("--board", action="append", choices=sorted(BOARDS),
                    help="check only this board (repeatable; default: all)")
    args = ap.parse_args(argv)
    roots = args.root or [str(ROOT / "firmware")]
    boards = args.board or sorted(BOARDS)
    try:
        pins = stub_pins()
        files = [f for r in roots for f in hardware_files(r)]
        if not files:
            raise CheckError("no file under %s imports %s" % (", ".join(roots),
                                                            "/".join(HARDWARE_MODULES)))
        failed = 0
        for board in boards:
            package = BOARDS[board][0]
            if package not in pins:
                raise CheckError("requirements-stubs.txt pins no %s" % package)
            stubs = install_stubs(board, pins[package])
            mine = files_for(board, files)
            errors, seconds = check_board(board, stubs, mine)
            status = "ok" if not errors else "%d error(s)" % len(errors)
            print("typecheck %s (%s, --platform %s): %d file(s), %s, %.1f s"
                  % (board, pins[package], BOARDS[board][1], len(mine), status, seconds))
            for f in mine:
                print("  checked %s" % _rel(f))
            for line in errors:
                print("  " + line)
            failed += bool(errors)
    except CheckError as e:
        print("typecheck: %s" % e, file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
