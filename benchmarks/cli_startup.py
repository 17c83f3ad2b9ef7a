"""Start-up time of the `kerasmm` command: `kerasmm --help`, lazy versus eager imports.

Each row starts a fresh Python process and times it to its exit (wall
clock, median of `--repeats` runs):

- `kerasmm --help`: the console script (a file named `kerasmm` holding what
  pip writes for `kerasmm = kerasmm.cli:main`); in this process `import
  kerasmm` is lazy, so no TensorFlow is imported;
- `python -m kerasmm --help`: the same through `-m`;
- `eager: import kerasmm + --help`: the same `main(["--help"])` from a
  process that is not the command, so `import kerasmm` imports every
  sub-package and TensorFlow first: what `kerasmm --help` cost before the
  command's imports became lazy;
- `import kerasmm`: a library user's import, for reference (not with
  `--quick`, which starts TensorFlow once only).

Usage:
    python benchmarks/cli_startup.py [--quick] [--repeats N]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

import _common

CONSOLE_SCRIPT = "import sys\nfrom kerasmm.cli import main\nsys.exit(main())\n"


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per row; the median is shown (default 5; quick 1)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 5)
    return args


def time_command(command, env, repeats):
    """Median wall seconds of `command` run `repeats` times; checks it succeeds."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=600)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed: {done.stderr[-2000:]}")
    return statistics.median(seconds)


def main(argv=None):
    args = parse_args(argv)
    _common.select_backend(args.backend)
    print(_common.describe_run(args), flush=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [_common.REPO_ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "kerasmm")
        with open(script, "w") as f:
            f.write(CONSOLE_SCRIPT)
        rows = {
            "kerasmm --help": [sys.executable, script, "--help"],
            "python -m kerasmm --help": [sys.executable, "-m", "kerasmm", "--help"],
            "eager: import kerasmm + --help": [
                sys.executable, "-c",
                "from kerasmm.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass"],
        }
        if not args.quick:
            rows["import kerasmm"] = [sys.executable, "-c", "import kerasmm"]
        times = {name: time_command(command, env, args.repeats)
                 for name, command in rows.items()}
    print(f"\nStart-up to exit, median of {args.repeats} run(s):")
    width = max(map(len, times))
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds:7.2f} s")
    speedup = times["eager: import kerasmm + --help"] / times["kerasmm --help"]
    print(f"\nkerasmm --help is {speedup:.1f}x faster than with eager imports "
          f"(target: under 1 s: {'met' if times['kerasmm --help'] < 1 else 'missed'})")


if __name__ == "__main__":
    main()
