"""Quick mode's worker subprocess: one for all of a script's configurations.

A full run starts a fresh subprocess per configuration
(`_common.run_worker`), so that each row's peak RSS is its own. A `--quick`
smoke run goes through the same `run_worker` and `worker(config)` code, but
hands one subprocess the list of configurations, which it runs in turn: the
TensorFlow / JAX import and start-up (seconds of CPU each) are paid once,
not once per row. Step memory stays per row (`_common.StepMemory` resets the
peak before each step); the peak RSS column is then the subprocess's peak
so far.
"""

import _common

SHARED_PROCESS_NOTE = ("  --quick: all rows ran in turn in one subprocess (peak RSS: "
                       "its peak so far).")


def batchable(worker):
    """`worker`, also accepting `{"batch": [config, ...]}` (runs each in turn)."""

    def run(config):
        if "batch" in config:
            return {"results": [worker(c) for c in config["batch"]]}
        return worker(config)

    return run


def run_workers(script, configs, args):
    """Yields the results of `configs`, in order, each as its subprocess ends:
    a fresh subprocess per configuration, or with `args.quick` one for them
    all (every result is its error if that subprocess fails)."""
    if not args.quick:
        for config in configs:
            yield _common.run_worker(script, config, args.backend, args.timeout)
        return
    if not configs:
        return
    result = _common.run_worker(script, {"batch": configs}, args.backend, args.timeout)
    if "error" in result:
        yield from (dict(result) for _ in configs)
        return
    yield from result["results"]
