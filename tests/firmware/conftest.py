"""Run every firmware test twice: under CPython (pytest, in-process) and under MicroPython.

Each module in tests/firmware is a plain module of `def test_*():` functions. Next to every
CPython item `test_x` this collects an item `test_x[micropython]`. The MicroPython items of one
module run together in one `micropython -X heapsize=N mp_driver.py MODULE NAMES...` process whose
per-test results and tracebacks are reported back here.

The heap is the ESP32's (the smallest board we support; a module may set MP_HEAPSIZE) for data,
as on a board: there the firmware is frozen into flash and its bytecode takes no heap. So, as the
simulator does (host_tools/frozen.py), the firmware and the test modules run as mpy-cross
bytecode, every firmware module is imported before the test, and N is the board's heap plus the
measured bytecode of the firmware and of the test module.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
_MARK = "\x1eMPTEST "
_TIMEOUT = int(os.environ.get("METERSEAL_MP_TIMEOUT", "900"))


def board_heap(board="esp32"):
    return json.loads((ROOT / "boards" / board / "board.json").read_text())["heap_bytes"]


def micropython_cmd():
    return os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")


def _module_heap(path):
    # A module may ask for a different heap with a top-level `MP_HEAPSIZE = <int>`.
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "MP_HEAPSIZE" for t in node.targets
        ):
            return int(ast.literal_eval(node.value))
    return board_heap()


class MicroPythonFailure(Exception):
    pass


_FROZEN = {}
_TEST_SLACK = 16384


def _frozen():
    """(firmware .mpy folder, test .mpy folder, preload list file, firmware bytecode bytes)."""
    if not _FROZEN:
        sys.path.insert(0, str(ROOT))
        from host_tools import frozen

        lib = frozen.build()
        tests = ROOT / "build" / "mpy" / "tests"
        tests.mkdir(parents=True, exist_ok=True)
        for f in HERE.glob("*.py"):
            if f.name == "conftest.py" or f.name.startswith("prep_"):
                continue  # CPython-only helpers
            dest = tests / (f.stem + ".mpy")
            if not dest.exists() or dest.stat().st_mtime < f.stat().st_mtime:
                subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(dest), str(f)],
                               check=True)
        preload = ROOT / "build" / "mpy" / "preload.txt"
        preload.write_text("\n".join(frozen.modules()) + "\n")
        _FROZEN.update(lib=lib, tests=tests, preload=preload,
                       bytes=frozen.footprint(micropython_cmd()))
    return _FROZEN


def _env():
    fz = _frozen()
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(fz["lib"]), str(fz["tests"]), ".frozen"])
    env["METERSEAL_PRELOAD"] = str(fz["preload"])
    return env


def _test_bytecode(module):
    out = subprocess.run([micropython_cmd(), "-X", "heapsize=16000000", str(HERE / "mp_driver.py"),
                          "--measure", module], env=_env(), cwd=str(ROOT), capture_output=True,
                         text=True)
    try:
        return int(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0  # the import fails: the run itself will report why


class DualModule(pytest.Module):
    _mp_results = None
    _mp_selected = None

    def collect(self):
        out = []
        for item in super().collect():
            out.append(item)
            if isinstance(item, pytest.Function) and item.originalname == item.name:
                out.append(MicroPythonItem.from_parent(self, name=item.name + "[micropython]",
                                                       fn_name=item.name))
        return out

    def mp_results(self):
        if self._mp_results is None:
            self._mp_results = self._run_micropython()
        return self._mp_results

    def _run_micropython(self):
        names = self._mp_selected or []
        env = _env()
        # Loading a test module wants contiguous blocks on a heap the preload has fragmented; a
        # board never loads tests, so they get their bytecode plus slack, not the board's data.
        heap = (_module_heap(self.path) + _frozen()["bytes"] + _test_bytecode(self.path.stem)
                + _TEST_SLACK)
        cmd = [micropython_cmd(), "-X", "heapsize=%d" % heap,
               str(HERE / "mp_driver.py"), self.path.stem] + names
        try:
            proc = subprocess.run(cmd, env=env, cwd=str(ROOT), capture_output=True, text=True,
                                  timeout=_TIMEOUT)
            output, code = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            output += "\n(timed out after %d s)" % _TIMEOUT
            code = None
        results, other = {}, []
        for line in output.split("\n"):  # not splitlines(): it splits at \x1e too
            if line.startswith(_MARK):
                name, outcome, detail = json.loads(line[len(_MARK):])
                results[name] = (outcome, detail)
            else:
                other.append(line)
        results["<output>"] = ("", "\n".join(other[-200:]))
        results["<exit>"] = ("", code)
        return results


class MicroPythonItem(pytest.Item):
    def __init__(self, *, fn_name, **kw):
        super().__init__(**kw)
        self.fn_name = fn_name

    def runtest(self):
        results = self.parent.mp_results()
        if "<import>" in results:
            raise MicroPythonFailure("importing the module failed under MicroPython:\n"
                                     + results["<import>"][1])
        if self.fn_name not in results:
            raise MicroPythonFailure(
                "no result from MicroPython for %s (exit code %s); its output:\n%s"
                % (self.fn_name, results["<exit>"][1], results["<output>"][1]))
        outcome, detail = results[self.fn_name]
        if outcome == "skipped":
            pytest.skip(detail)
        if outcome != "passed":
            raise MicroPythonFailure(detail)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "MicroPython traceback:\n" + str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "%s [micropython]" % self.fn_name


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name.startswith("test_"):
        return DualModule.from_parent(parent, path=module_path)
    return None


def pytest_collection_finish(session):
    # Run only the selected MicroPython items (after -k / node-id selection), one process a module.
    for item in session.items:
        if isinstance(item, MicroPythonItem):
            mod = item.parent
            if mod._mp_selected is None:
                mod._mp_selected = []
            mod._mp_selected.append(item.fn_name)
