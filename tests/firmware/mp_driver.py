# Runs the test functions of one firmware test module inside the MicroPython interpreter and
# reports each result on its own marked line for conftest.py to read.
# Usage: micropython -X heapsize=N mp_driver.py MODULE [TEST_NAME ...]
import gc
import io
import json
import sys

_MARK = "\x1eMPTEST "


def _report(name, outcome, detail=""):
    sys.stdout.write(_MARK + json.dumps([name, outcome, detail]) + "\n")


def _format_exc(e):
    buf = io.StringIO()
    sys.print_exception(e, buf)
    return buf.getvalue()


def _preload():
    # The firmware as a frozen build holds it: every module present from boot (conftest.py).
    path = __import__("os").getenv("METERSEAL_PRELOAD")
    if path:
        with open(path) as f:
            for line in f:
                if line.strip():
                    __import__(line.strip())
                    gc.collect()  # packs the bytecode, as hal/sim.py does


def _measure(modname):
    # Heap bytes the test module's own bytecode takes (added to the board heap by conftest.py).
    _preload()
    gc.collect()
    a = gc.mem_alloc()
    __import__(modname)
    gc.collect()
    print(gc.mem_alloc() - a)


def main(argv):
    if argv[1] == "--measure":
        _measure(argv[2])
        return
    modname = argv[1]
    wanted = argv[2:]
    try:
        _preload()
    except Exception as e:
        _report("<import>", "failed", "preloading the firmware: " + _format_exc(e))
        return
    try:
        mod = __import__(modname)
    except Exception as e:
        _report("<import>", "failed", _format_exc(e))
        return
    skip_cls = getattr(sys.modules.get("mptest"), "Skip", None)
    names = wanted or sorted(n for n in dir(mod) if n.startswith("test_"))
    for name in names:
        fn = getattr(mod, name, None)
        if fn is None:
            _report(name, "failed", "no such test function in " + modname)
            continue
        gc.collect()
        try:
            fn()
        except Exception as e:
            if skip_cls is not None and isinstance(e, skip_cls):
                _report(name, "skipped", str(e))
            else:
                _report(name, "failed", _format_exc(e))
            continue
        _report(name, "passed")
    _report("<end>", "passed")


main(sys.argv)
