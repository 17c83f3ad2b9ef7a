"""Config dataclasses as text: one `name = value` line per field."""

import dataclasses


def format_config(config, indent="  ", prefix=""):
    """`config` (a dataclass instance) as `name = value` lines, in field order.

    Nested dataclasses are flattened with dotted names (`demo.image_size`),
    so the CLI help and the recipes' logs print every value the run uses.

    Example:

    >>> from kerasmm.recipes import ClipDemoConfig
    >>> print(format_config(ClipDemoConfig()).splitlines()[0])
      image_size = 32
    """
    lines = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            lines.append(format_config(value, indent, f"{prefix}{field.name}."))
        else:
            lines.append(f"{indent}{prefix}{field.name} = {value!r}")
    return "\n".join(lines)
