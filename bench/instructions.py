"""Per-request cost in CPU instructions (issue 14 §2), which, unlike timings, repeat to
about 1 % on these noisy machines: the same process under valgrind's callgrind with N
authenticated requests and with none after the same set-up; the difference over N is
what one request costs. Plain Django (session + auth middleware, SQLite, db engine)
against the same stack with sessions_mgmt installed, in the same run.

Needs Debian's valgrind (``apt-get install valgrind``); says so and skips without it.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "instructions_worker.py"
N = 400 if os.environ.get("BENCH") == "full" else 150
TARGET = 1.01


def instructions(mode: str, db: str, n: int, out_dir: str) -> int:
    out = os.path.join(out_dir, f"callgrind.{mode}.{n}")
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-line=no",
            "--dump-instr=no",
            sys.executable,
            str(WORKER),
            mode,
            db,
            str(n),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        timeout=1800,
    )
    with open(out) as f:
        for line in f:
            match = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if match:
                return int(match[1])
    raise RuntimeError(f"no instruction total in {out}")


def main() -> None:
    if shutil.which("valgrind") is None:
        print("instructions: skipped, valgrind is not installed (apt-get install valgrind)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.sqlite3")
        subprocess.run([sys.executable, str(WORKER), "setup", db], check=True, timeout=300)
        per_request = {}
        for mode in ("plain", "app"):
            base = instructions(mode, db, 0, tmp)
            loaded = instructions(mode, db, N, tmp)
            per_request[mode] = (loaded - base) / N
        ratio = per_request["app"] / per_request["plain"]
    print(f"## Instructions per authenticated GET (callgrind, N={N}, SQLite + db engine)")
    print(f"  plain Django: {per_request['plain']:,.0f}")
    print(f"  with sessions_mgmt: {per_request['app']:,.0f}")
    verdict = (
        "met"
        if ratio <= TARGET
        else (
            "MISSED (decoding the tracking state and the middleware's decision, on every "
            "request: see docs/PERFORMANCE.md)"
        )
    )
    print(
        f"  target: instructions per authenticated GET: {ratio:.4f}x plain Django's "
        f"(goal <= {TARGET}x): {verdict}"
    )


if __name__ == "__main__":
    main()
