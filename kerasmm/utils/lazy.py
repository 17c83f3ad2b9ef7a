"""Package attributes imported on first use (PEP 562 module `__getattr__`).

A package lists its public names and the sub-module defining each; nothing
is imported until a name is read (`package.name`, `from package import
name`). The `kerasmm` command uses this to print its help without importing
TensorFlow.

Example:

>>> getter, lister = lazy_attributes("kerasmm.utils", {"check_int": "checks"})
>>> getter("check_int").__module__, "check_int" in lister()
('kerasmm.utils.checks', True)
"""

import importlib
import sys


def lazy_attributes(package, names):
    """`(__getattr__, __dir__)` for a package whose public names load lazily.

    Args:
        package: str, the package's `__name__`.
        names: dict, each public name to the module, relative to `package`,
            that defines it. A name equal to its module (`"evaluation":
            "evaluation"`) is that sub-module itself.

    Returns:
        The two functions to assign to the package's `__getattr__` and
        `__dir__`. A name read once is stored in the package, so the next
        read is a plain attribute.
    """

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{names[name]}")
        value = module if names[name] == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(names) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
