# The per-meter wireless M-Bus keys (KEY_M-Bus, K5 in the architecture): one AES-128 key per meter,
# named "<manufacturer><ID>" as the telegram names the meter ("APA88888888").
#
# STOPGAP until the keystore capability lands: the keys live in the plain storage file
# "wmbus_keys.json" ({"APA88888888": "<32 hex digits>"}), readable by anyone who can read the
# flash. get_key/put_key below are the ONE place that touches that file: the keystore
# (security/keystore.py, put_secret) replaces these two functions and nothing else changes.
import binascii
import json

_FILE = "wmbus_keys.json"


def _table(board):
    raw = board.storage.read(_FILE)
    return json.loads(raw) if raw else {}


def get_key(board, meter):
    """The 16-byte key of meter "APA88888888", or None when the board has none for it."""
    h = _table(board).get(meter)
    return binascii.unhexlify(h) if h else None


def put_key(board, meter, key):
    """Store (or replace) the key of a meter; atomic, so a power loss keeps the old or new table."""
    if len(key) != 16:
        raise ValueError("KEY_M-Bus must be 16 bytes (AES-128)")
    t = _table(board)
    t[meter] = binascii.hexlify(key).decode()
    board.storage.write_atomic(_FILE, json.dumps(t).encode())


def meters(board):
    """The names of the meters the board holds keys for (never the keys)."""
    return sorted(_table(board))


def key_command(board, only=None):
    """Console "wmbus_key": install a meter's KEY_M-Bus ({"meter": "APA88888888", "key": hex});
    on a meter `only` is its own name. Write-only: no command ever returns a key.
    Unauthenticated until the signed-command capability guards provisioning."""

    def cmd(args):
        from meterseal.roles.console import CommandError
        from meterseal.proto import console as cp

        meter = args.get("meter")
        try:
            key = binascii.unhexlify(args.get("key", ""))
            if not isinstance(meter, str) or len(meter) != 11:
                raise ValueError("meter must be manufacturer letters and 8 ID digits")
            if only is not None and meter != only:
                raise ValueError("this meter is " + only)
            put_key(board, meter, key)
        except ValueError as e:
            raise CommandError(cp.E_BAD_REQUEST, str(e))
        return {"meter": meter, "meters": meters(board)}

    return cmd
