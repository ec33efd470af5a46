"""Run a real ClickHouse server (HTTP/TCP listeners) from the chDB engine, for tests.

Usage: python3 chdb-server.py PARENT_PID DATA_DIR LIBCHDB_SO [clickhouse-local arguments...]

libchdb.so is full clickhouse-local. Its listeners live only while chdb_query_cmdline() runs, so the
arguments end with a query that blocks until this process is killed. We call it from Python's ctypes
because Node FFI (koffi) runs calls on its own small stack and ClickHouse's stack check fails there.
"""

import ctypes
import os
import shutil
import sys
import threading
import time


def die_with_parent(parent_pid: int, data_dir: str) -> None:
    # A crashed test run must leave nothing behind: once the parent is gone (we get reparented), remove
    # the data directory and exit. Polling rather than prctl(PR_SET_PDEATHSIG): a signal would kill us
    # before the cleanup, and Python signal handlers never run while the main thread is inside the C call.
    # ctypes releases the GIL during that call, so this thread keeps running.
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        for _ in range(3):  # ClickHouse threads may still be writing files while we delete.
            shutil.rmtree(data_dir, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main() -> int:
    parent_pid, data_dir, lib_path, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    die_with_parent(parent_pid, data_dir)

    lib = ctypes.CDLL(lib_path)
    lib.chdb_query_cmdline.restype = ctypes.c_void_p
    lib.chdb_result_error.restype = ctypes.c_char_p
    lib.chdb_result_error.argtypes = [ctypes.c_void_p]

    encoded = [b"clickhouse"] + [a.encode() for a in args]
    argv = (ctypes.c_char_p * len(encoded))(*encoded)
    result = lib.chdb_query_cmdline(len(encoded), argv)

    # Reaching this line means the server stopped on its own: the blocking query failed (bad
    # arguments, port in use, invalid config...). Report why so the test sees it.
    error = lib.chdb_result_error(result) if result else b"chdb_query_cmdline returned NULL"
    sys.stderr.write((error or b"clickhouse-local stopped before it was killed").decode(errors="replace") + "\n")
    sys.stderr.flush()
    return 1


if __name__ == "__main__":
    sys.exit(main())
