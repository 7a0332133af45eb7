"""`podman run --rm IMG /bin/true` on runk against runc: alternating runs, medians and their ratio.

    .venv/bin/python -m tests.podman.bench [-n 10]

Uses the same offline set-up as the podman tests (test-local containers.conf, an imported
busybox image that is removed again). Prints the times; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time

from tests.podman.conftest import PODMAN, RUNTIMES, Session


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="runs per runtime (alternating)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="runk-podman-bench-", dir="/var/tmp")
    s = Session(workdir)
    s.import_image()
    times: dict[str, list[float]] = {name: [] for name in RUNTIMES}
    try:
        for binary in RUNTIMES.values():  # warm-up: page cache, image layers
            subprocess.run(
                [PODMAN, "--runtime", binary, "run", "--rm", s.image, "/bin/true"],
                env=s.env,
                check=True,
                capture_output=True,
            )
        for _ in range(args.n):
            for name, binary in RUNTIMES.items():
                t0 = time.monotonic()
                subprocess.run(
                    [PODMAN, "--runtime", binary, "run", "--rm", s.image, "/bin/true"],
                    env=s.env,
                    check=True,
                    capture_output=True,
                )
                times[name].append(time.monotonic() - t0)
    finally:
        s.close()
        shutil.rmtree(workdir, ignore_errors=True)
    med = {name: statistics.median(v) for name, v in times.items()}
    result = {"runs": args.n, "median_s": med, "ratio_runk_over_runc": med["runk"] / med["runc"], "times_s": times}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for name, v in times.items():
            print(f"{name}: median {med[name] * 1000:.0f} ms  ({', '.join(f'{t * 1000:.0f}' for t in v)})")
        print(f"ratio of medians runk/runc: {result['ratio_runk_over_runc']:.2f}")


if __name__ == "__main__":
    main()
