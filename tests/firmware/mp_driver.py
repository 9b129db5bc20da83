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


def main(argv):
    modname = argv[1]
    wanted = argv[2:]
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
