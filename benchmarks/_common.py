"""Helpers shared by the kerasmm benchmark scripts.

Public tools only: `time.perf_counter` for time, `resource.getrusage` and
`/proc/self` for host memory, XLA's own memory analysis (JAX) or
`tf.config.experimental.get_memory_info` (TensorFlow on an accelerator) for
device memory. Nothing here knows the machine it runs on.

Every script follows the same pattern: the parent process parses its
arguments, then runs each configuration in a *fresh subprocess*
(`run_worker`) so that one configuration's memory high-water mark cannot
leak into the next one's, and a configuration that exhausts memory kills
only its own subprocess. The worker prints one `RESULT {json}` line.

Keras must not be imported here at module level: the backend is chosen by
`KERAS_BACKEND` before the first `import keras`, which each script does
after `select_backend`.
"""

import argparse
import ctypes
import json
import math
import os
import re
import resource
import subprocess
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_PREFIX = "RESULT "
BACKENDS = ("tensorflow", "jax")
GIB = 1024 ** 3
MIB = 1024 ** 2


# === Arguments and backend ===


def base_parser(description, subprocesses=True):
    """An `ArgumentParser` with the options every script shares.

    With `subprocesses`, also `--timeout` (per configuration) and the hidden
    `--worker` option through which the parent hands a subprocess its
    configuration.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true",
        help="tiny configuration that finishes in seconds (smoke test)")
    parser.add_argument(
        "--backend", choices=BACKENDS,
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    if subprocesses:
        parser.add_argument(
            "--timeout", type=float, default=None,
            help="seconds allowed per configuration subprocess")
        parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser


def select_backend(backend):
    """Sets `KERAS_BACKEND` (before keras is imported) and quiets TF logs."""
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(
            "select_backend must run before keras is imported. Received: "
            f"backend={backend}, KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)


def describe_run(args):
    """One line: backend, versions, cores and load (the machine may be busy).

    Lists the backend's devices only if keras is already imported (the parent
    process of a subprocess-per-configuration script need not import it).
    """
    from importlib import metadata

    parts = [f"backend={args.backend}"]
    for package in ("keras", args.backend, "keras-hub"):
        try:
            parts.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    if "keras" in sys.modules:
        parts.append(f"devices={list_devices()}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    parts.append(f"cpus={os.cpu_count()} load_avg(1,5,15 min)=({load})")
    parts.append("mode=" + ("quick" if args.quick else "full"))
    return " ".join(parts)


def list_devices():
    """The current backend's device names."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    import tensorflow as tf

    return [d.name for d in tf.config.list_logical_devices()]


# === Subprocess per configuration ===


def run_worker(script, config, backend, timeout=None):
    """Runs `script --worker <config json>` in a fresh Python process.

    Returns the dict the worker printed after `RESULT `, or
    `{"error": ...}` when it failed (killed for memory, timed out, raised).
    """
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, script, "--backend", backend,
               "--worker", json.dumps(config)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    if done.returncode < 0:
        reason = f"killed by signal {-done.returncode}"
        if -done.returncode == 9:
            reason += " (likely out of memory)"
        return {"error": reason}
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {done.returncode}: {tail[:200]}"}


class LineWorker:
    """A long-lived subprocess answering one request per line.

    For timing another framework *interleaved* with kerasmm, call by call
    (e.g. torch in its own virtual environment): `request(line)` writes one
    line to the worker's stdin and returns the dict it prints after
    `RESULT ` on stdout (its other output is skipped). The worker is told
    `quit` and waited for on `close()` (or leaving a `with` block).
    """

    def __init__(self, command, env=None):
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)

    def request(self, line):
        """Sends `line`, returns the worker's next `RESULT` dict (raises
        `RuntimeError` with its last error line if it exits first)."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        for output in self.process.stdout:
            if output.startswith(RESULT_PREFIX):
                return json.loads(output[len(RESULT_PREFIX):])
        error = (self.process.stderr.read().strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the worker exited ({self.process.wait()}): {error}")

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def serve_lines(handlers):
    """The worker side of `LineWorker`: reads a line `name [json]`, calls
    `handlers[name](json value or None)` and emits its result, until `quit`
    or end of input."""
    for line in sys.stdin:
        name, _, payload = line.strip().partition(" ")
        if name in ("quit", ""):
            return
        emit_result(handlers[name](json.loads(payload) if payload else None))


def emit_result(result):
    """What a worker prints last; `run_worker` parses it."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def main_in_process(argv, parse_args, run):
    """The `main` of a benchmark that runs in its own process: selects the
    backend (before Keras is imported), describes the run, calls `run(args)`."""
    args = parse_args(argv)
    select_backend(args.backend)
    import keras  # noqa: F401  (after select_backend)

    print(describe_run(args))
    run(args)


def main(argv, parse_args, worker, run):
    """The `main` of a benchmark that runs each configuration in a fresh
    subprocess: as a worker (`--worker CONFIG`) it runs `worker(config)`
    and emits its result; otherwise it describes the run and calls
    `run(args)`, which starts the workers."""
    args = parse_args(argv)
    select_backend(args.backend)
    if args.worker:
        emit_result(worker(json.loads(args.worker)))
        return
    print(describe_run(args))
    run(args)


# === Host memory ===


def peak_rss_bytes():
    """This process's peak resident set size since it started (getrusage)."""
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_bytes(field):
    try:
        with open("/proc/self/status") as f:
            match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def current_rss_bytes():
    return _status_bytes("VmRSS")


def trim_heap():
    """Returns freed heap pages to the OS (glibc), so RSS is what is in use."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss():
    """Resets the kernel's RSS high-water mark (VmHWM); True if it could."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class StepMemory:
    """Host memory a block of code needs above what was resident before it.

    `with StepMemory() as m: step()` then `m.delta_bytes` is the block's
    peak RSS minus the RSS on entry: the transient memory of the step
    (activations, temporaries), without weights, inputs and compiled code
    already resident. Uses the kernel's VmHWM after a reset; where the reset
    is not allowed it falls back to `getrusage`, whose peak may predate the
    block (then `exact` is False).
    """

    def __enter__(self):
        trim_heap()
        self.exact = reset_peak_rss()
        self.before = current_rss_bytes() or 0
        return self

    def __exit__(self, *exc):
        peak = _status_bytes("VmHWM") if self.exact else None
        self.peak_bytes = peak or peak_rss_bytes()
        self.delta_bytes = max(self.peak_bytes - self.before, 0)
        return False


def memory_result(step_memory):
    """The memory fields of a worker's result, after a `StepMemory` block."""
    return {"step_bytes": step_memory.delta_bytes,
            "step_memory_exact": step_memory.exact,
            "peak_rss_bytes": peak_rss_bytes(),
            "device_peak_bytes": device_peak_bytes()}


# === Device memory ===


def device_peak_bytes():
    """Peak accelerator memory in use, or None on CPU (no allocator stats)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "cpu":
            return None
        stats = device.memory_stats() or {}
        return stats.get("peak_bytes_in_use")
    import tensorflow as tf

    for kind in ("GPU", "TPU"):
        if tf.config.list_logical_devices(kind):
            try:
                return tf.config.experimental.get_memory_info(f"{kind}:0")["peak"]
            except (ValueError, RuntimeError):
                return None
    return None


def jax_compiled_stats(jitted, *args):
    """XLA's temp buffer bytes and flops of `jitted(*args)` (JAX; compiles only).

    Returns `{"xla_temp_bytes", "xla_flops"}` (entries None when XLA does
    not report them).
    """
    compiled = jitted.lower(*args).compile()
    temp, flops = None, None
    try:
        temp = compiled.memory_analysis().temp_size_in_bytes
    except Exception:  # noqa: BLE001 - not every platform reports it
        pass
    try:
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        flops = cost.get("flops")
    except Exception:  # noqa: BLE001
        pass
    return {"xla_temp_bytes": temp, "xla_flops": flops}


# === Time ===


def block(value):
    """Waits until `value` (any nest of tensors) is computed."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.block_until_ready(value)
    # TF returns from a (compiled) function once its outputs exist on CPU;
    # on an accelerator, reading one element back synchronises.
    for leaf in keras.tree.flatten(value):
        if hasattr(leaf, "numpy"):
            element = leaf if len(leaf.shape) == 0 else leaf[(0,) * len(leaf.shape)]
            element.numpy()  # Not np.asarray: that refuses a bfloat16 tensor.
            break
    return value


def time_call(fn, warmup=1, repeats=3):
    """Median wall seconds of `fn()` after `warmup` untimed calls.

    `fn` must block until its work is done (see `block`). Returns a dict
    with `median`, `min`, `first` (the first warmup call, which includes
    compilation) and `times`.
    """
    first = None
    for _ in range(warmup):
        start = time.perf_counter()
        fn()
        first = first if first is not None else time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median": float(np.median(times)), "min": float(min(times)),
            "first": first, "times": times}


def gemm_call(size=2048, dtype="float32"):
    """`(fn, flops)`: a compiled `size x size` matmul that blocks, and its flops."""
    import keras

    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((size, size)), dtype)
    b = keras.ops.convert_to_tensor(rng.standard_normal((size, size)), dtype)
    if keras.backend.backend() == "jax":
        import jax

        matmul = jax.jit(lambda x, y: x @ y)
    else:
        import tensorflow as tf

        matmul = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=True)
    return (lambda: block(matmul(a, b))), 2 * size ** 3


def gemm_peak_gflops(size=2048, repeats=5, dtype="float32"):
    """Measured GFLOP/s of a compiled `size x size` matmul, current backend.

    The machine's practical peak for dense float32 math, used as the
    denominator of model FLOP utilisation: the best of `repeats` timed
    calls (after one compiling call) is taken, as peaks are.
    """
    fn, flops = gemm_call(size, dtype)
    return flops / time_call(fn, warmup=1, repeats=repeats)["min"] / 1e9


def max_abs_diff(path_a, path_b):
    """Largest |a - b| over all arrays of two `.npz` files with the same keys."""
    a, b = np.load(path_a), np.load(path_b)
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a.files)


# === Output ===


def format_bytes(value):
    if value is None:
        return "-"
    if value >= GIB:
        return f"{value / GIB:.2f} GiB"
    return f"{value / MIB:.0f} MiB"


def format_seconds(value):
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1e3:.1f} ms"


def format_ratio(value):
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}x"


def print_table(headers, rows, title=None):
    """A plain fixed-width table (every cell is turned into a string)."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    sys.stdout.flush()


def loglog_slope(sizes, values):
    """Slope of `log(values)` against `log(sizes)` (numpy polyfit), or None.

    Needs at least two points with positive values.
    """
    points = [(s, v) for s, v in zip(sizes, values) if v is not None and v > 0]
    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])
