# Storage on a mounted filesystem: littlefs2 on the boards and in the MicroPython simulator, a
# plain folder under CPython. The one primitive everything persistent relies on is
# write_atomic(): after a power loss at any moment a file holds its old or its new content.
import os

from meterseal.compat import IS_MICROPYTHON

_TMP = ".tmp"


class Storage:
    def __init__(self, root):
        self.root = root.rstrip("/")

    def path(self, name):
        return self.root + "/" + name

    def _mkdirs(self, name):
        parts = name.split("/")[:-1]
        p = self.root
        for part in parts:
            p = p + "/" + part
            try:
                os.mkdir(p)
            except OSError:
                pass  # exists

    def read(self, name):
        """The whole file, or None when it does not exist."""
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def open(self, name, mode="rb"):
        if "w" in mode or "a" in mode:
            self._mkdirs(name)
        return open(self.path(name), mode)

    def write_atomic(self, name, data):
        """Replace `name` with `data` so that a power loss leaves the old or the new content.

        littlefs commits a file on close and renames atomically (copy-on-write metadata), so
        write-to-temporary then rename is enough there; a POSIX folder also needs the fsyncs.
        """
        self._mkdirs(name)
        final = self.path(name)
        tmp = final + _TMP
        with open(tmp, "wb") as f:
            f.write(data)
            if not IS_MICROPYTHON:
                f.flush()
                os.fsync(f.fileno())
        if IS_MICROPYTHON:
            os.rename(tmp, final)
        else:
            os.replace(tmp, final)
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def exists(self, name):
        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False

    def remove(self, name):
        try:
            os.remove(self.path(name))
        except OSError:
            pass

    def listdir(self, sub=""):
        try:
            return sorted(os.listdir(self.path(sub) if sub else self.root))
        except OSError:
            return []

    def recover(self):
        """Drop temporaries left by a write that a power loss cut short (called at boot)."""
        stack = [""]
        while stack:
            sub = stack.pop()
            for name in self.listdir(sub):
                rel = sub + "/" + name if sub else name
                if name.endswith(_TMP):
                    self.remove(rel)
                elif os.stat(self.path(rel))[0] & 0x4000:  # S_IFDIR
                    stack.append(rel)

    def usage(self):
        """(used_bytes, total_bytes) of the filesystem."""
        st = os.statvfs(self.root)
        total = st[0] * st[2]
        return total - st[0] * st[3], total
