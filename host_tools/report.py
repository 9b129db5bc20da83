"""Readable output: tables and identities."""
import json


def human_bytes(n):
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def table(rows, headers=None):
    """Left-aligned columns; rows are sequences of strings."""
    rows = [[str(c) for c in r] for r in rows]
    if headers:
        rows.insert(0, list(headers))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if headers:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_identity(ident, as_json=False):
    if as_json:
        out = dict(ident)
        if isinstance(out.get("unique_id"), bytes):
            out["unique_id"] = out["unique_id"].hex()
        print(json.dumps(out, indent=2, sort_keys=True))
        return
    uid = ident.get("unique_id")
    heap = "n/a (CPython)" if ident.get("heap_total") is None else "%s free of %s" % (
        human_bytes(ident["heap_free"]), human_bytes(ident["heap_total"]))
    if ident.get("heap_max_block") is not None:
        heap += ", largest block %s" % human_bytes(ident["heap_max_block"])
    rows = [
        ("board", "%s: %s" % (ident.get("board"), ident.get("description", ""))),
        ("role", ident.get("role")),
        ("firmware", "MeterSeal %s (console protocol %s)" % (ident.get("firmware"),
                                                            ident.get("protocol"))),
        ("interpreter", ident.get("interpreter")),
        ("heap", heap),
        ("storage", "%s used of %s" % (human_bytes(ident.get("storage_used")),
                                       human_bytes(ident.get("storage_total")))),
        ("unique id", uid.hex() if isinstance(uid, bytes) else uid),
        ("uptime", "%s s" % ident.get("uptime_s")),
    ]
    print(table(rows))
