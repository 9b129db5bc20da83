"""Settings: command-line options over METERSEAL_* environment variables over the TOML file
(./meterseal.toml, else ~/.config/meterseal/config.toml), over built-in defaults.

    # meterseal.toml
    port = "/dev/ttyUSB0"
    baud = 115200
    timeout = 2.0
"""
import os
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .errors import ToolError

DEFAULTS = {"port": None, "baud": 115200, "timeout": 2.0}
_TYPES = {"port": str, "baud": int, "timeout": float}


def config_files():
    return [Path("meterseal.toml"), Path.home() / ".config" / "meterseal" / "config.toml"]


def load(path=None):
    values = dict(DEFAULTS)
    files = [Path(path)] if path else config_files()
    for f in files:
        if f.exists():
            try:
                data = tomllib.loads(f.read_text())
            except tomllib.TOMLDecodeError as e:
                raise ToolError("%s: %s" % (f, e)) from e
            for k, v in data.items():
                if k not in _TYPES:
                    raise ToolError("%s: unknown setting %r (known: %s)" % (f, k, ", ".join(_TYPES)))
                values[k] = _TYPES[k](v)
            break
        if path:
            raise ToolError("config file %s does not exist" % f)
    for k, typ in _TYPES.items():
        env = os.environ.get("METERSEAL_" + k.upper())
        if env:
            try:
                values[k] = typ(env)
            except ValueError as e:
                raise ToolError("METERSEAL_%s=%r: not a valid %s" % (k.upper(), env, typ.__name__)) from e
    return values
