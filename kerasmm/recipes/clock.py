"""Wall and CPU time of a block, for the recipes' measured numbers."""

import resource
import time


class Clock:
    """Wall and CPU (user + system, this process) seconds of a `with` block.

    Example:

    >>> with Clock() as clock:
    ...     _ = sum(range(1000))
    >>> sorted(clock.timings())
    ['system_cpu_seconds', 'train_seconds', 'user_cpu_seconds']
    """

    def __enter__(self):
        self._wall = time.perf_counter()
        self._cpu = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc):
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        self.wall_seconds = time.perf_counter() - self._wall
        self.user_cpu_seconds = cpu.ru_utime - self._cpu.ru_utime
        self.system_cpu_seconds = cpu.ru_stime - self._cpu.ru_stime

    def timings(self):
        """`train_seconds` (wall), `user_cpu_seconds`, `system_cpu_seconds`."""
        return {"train_seconds": self.wall_seconds,
                "user_cpu_seconds": self.user_cpu_seconds,
                "system_cpu_seconds": self.system_cpu_seconds}
