"""Quiet start-up of TensorFlow, XLA and JAX for the `kerasmm` command.

TensorFlow's shared libraries log through absl before anything can
configure absl (`WARNING: All log messages before absl::InitializeLog() is
called are written to STDERR`, then oneDNN, cuda and cuInit lines), and TF
2.21 writes some of them whatever `TF_CPP_MIN_LOG_LEVEL` says. So besides
the environment variable and the Python loggers, `quiet_backend_logs`
filters file descriptor 2 itself: the process' stderr goes through a pipe
that drops absl-format info and warning lines (and the few known start-up
errors, such as cuInit on a machine without a GPU driver) and passes
everything else through, at once: tracebacks, Python warnings, progress
bars.
"""

import contextlib
import logging
import os
import re
import sys
import threading

# absl / glog's line prefix: severity, date, time, thread id, file:line].
ABSL_LINE = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
INFO_OR_WARNING = re.compile(rb"^[IW]\d{4} ")
# Start-up errors that only say "no GPU here" or "a slower kernel runs" (the
# job runs on).
STARTUP_ERRORS = (b"failed call to cuInit", b"Unable to register cu",
                  b"computation placer already registered",
                  b"Falling back to the default Eigen-based implementation")
# Lines without absl's prefix: absl's own notice, and the second line of
# cpu_feature_guard's message.
STARTUP_LINES = (b"WARNING: All log messages before absl::InitializeLog() is called",
                 b"To enable the following instructions:")
# Python loggers whose start-up warnings say nothing actionable ("Falling
# back to cpu", retracing notes); errors still show.
LOGGERS = ("tensorflow", "absl", "jax._src.xla_bridge")


def is_startup_noise(line):
    """Whether one line (bytes) of stderr is TensorFlow/XLA start-up noise.

    Example:

    >>> is_startup_noise(b"I0000 00:00:1796004014.708282   23180 port.cc:153] oneDNN ...")
    True
    >>> is_startup_noise(b"ValueError: epochs must be a positive integer")
    False
    """
    if ABSL_LINE.match(line):
        return bool(INFO_OR_WARNING.match(line)) or any(s in line for s in STARTUP_ERRORS)
    return line.startswith(STARTUP_LINES)


def _forward(read_fd, write_fd):
    """Copies `read_fd` to `write_fd` line by line (`\\n` or `\\r` ends a line,
    so progress bars stay live), dropping start-up noise, until end of file."""
    pending = b""
    while True:
        chunk = os.read(read_fd, 65536)
        lines = re.findall(rb"[^\r\n]*(?:\r\n|\r|\n)", pending + chunk)
        pending = (pending + chunk)[sum(map(len, lines)):]
        if not chunk:  # End of file: the rest had no line end.
            lines.append(pending)
        kept = b"".join(line for line in lines if not is_startup_noise(line))
        if kept:
            os.write(write_fd, kept)
        if not chunk:
            return


@contextlib.contextmanager
def quiet_backend_logs():
    """Silences TensorFlow/XLA/JAX start-up logs within the block.

    Enter it before TensorFlow or JAX is imported: it sets
    `TF_CPP_MIN_LOG_LEVEL=2` (unless set), raises the backends' Python
    loggers to ERROR and filters file descriptor 2 (see the module
    docstring). Other output is untouched.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # No stderr to filter (a closed descriptor 2).
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_forward, args=(read_fd, saved), daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # Closes the pipe's last write end: the thread sees EOF.
        # A child process still holding the pipe keeps it open: wait only briefly
        # (then the thread forwards the child's lines until the child is done).
        thread.join(timeout=2)
        if not thread.is_alive():
            os.close(read_fd)
            os.close(saved)
