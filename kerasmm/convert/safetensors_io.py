"""Reading and writing checkpoint tensors as numpy arrays.

safetensors files are read with the `safetensors` numpy API (no torch).
A PyTorch pickle (`.bin`, `.pt`, `.pth`) is read only when torch >= 2.6 is
installed, with `torch.load(weights_only=True)` (which runs code from the file
in earlier versions: CVE-2025-32434); otherwise the error names the
safetensors file to get instead.
"""

import os
import re

import numpy as np

from kerasmm.convert.tensor_reader import to_numpy

_TORCH_SUFFIXES = (".bin", ".pt", ".pth")
MIN_TORCH_VERSION = (2, 6)


def safe_torch_version(version):
    """True if `torch.load(weights_only=True)` of this torch version runs no
    code from the file: 2.6 and later (CVE-2025-32434).

    Example:
    >>> safe_torch_version("2.6.0+cpu"), safe_torch_version("2.5.1")
    (True, False)
    """
    match = re.match(r"(\d+)\.(\d+)", str(version))
    return bool(match) and tuple(map(int, match.groups())) >= MIN_TORCH_VERSION


def _safetensors_name(path):
    """The usual safetensors sibling of a PyTorch weights file name."""
    name = os.path.basename(path)
    if name == "pytorch_model.bin":
        return "model.safetensors"
    if name == "open_clip_pytorch_model.bin":
        return "open_clip_model.safetensors"
    return os.path.splitext(name)[0] + ".safetensors"


def load_tensors(path):
    """`{tensor name: np.ndarray}` from a safetensors or PyTorch file.

    float16 / bfloat16 tensors come back as float32.

    Args:
        path: a `.safetensors` file, or a `.bin` / `.pt` / `.pth` PyTorch
            file (needs torch).

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_tensors(path, {"w": np.ones((2, 3), "float16")})
    >>> tensors = load_tensors(path)
    >>> tensors["w"].dtype, tensors["w"].shape
    (dtype('float32'), (2, 3))
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"No checkpoint file at path={path!r}")
    if path.endswith(".safetensors"):
        import safetensors.numpy

        try:
            tensors = safetensors.numpy.load_file(path)
        except safetensors.SafetensorError as error:
            raise ValueError(f"{path} is not a readable safetensors file (empty, "
                             f"truncated or another format): {error}") from None
    elif path.endswith(_TORCH_SUFFIXES):
        tensors = _load_torch(path)
    else:
        raise ValueError(
            "Checkpoint files must end in .safetensors (or .bin / .pt / .pth "
            f"with torch installed). Received: path={path!r}"
        )
    return {name: to_numpy(array) for name, array in tensors.items()}


def _load_torch(path):
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{path!r} is a PyTorch pickle, and reading it needs torch, which is "
            "not installed. Get the safetensors file of the same checkpoint "
            f"instead ({_safetensors_name(path)!r} in the same repository, or "
            "convert it once where torch is installed: "
            "`safetensors.torch.save_file(torch.load(path), ...)`), or "
            "`pip install 'torch>=2.6'`."
        ) from None
    if not safe_torch_version(torch.__version__):
        raise ValueError(
            f"{path!r} is a PyTorch pickle, and kerasmm reads those only with torch "
            ">= 2.6, whose torch.load(weights_only=True) runs no code from the file "
            f"(CVE-2025-32434). Received: torch {torch.__version__}. Upgrade torch or "
            f"get the safetensors file ({_safetensors_name(path)!r}) instead."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(
            f"{path!r} does not hold a state dict (a TorchScript archive, such "
            "as OpenAI's original .pt files, is not supported). Use the "
            "safetensors or pytorch_model.bin file of the checkpoint."
        )
    return {
        name: (tensor.float() if tensor.is_floating_point() else tensor).numpy()
        for name, tensor in state.items()
    }


def save_tensors(path, tensors, metadata=None):
    """Writes `{name: array}` to a safetensors file.

    Args:
        path: output `.safetensors` path.
        tensors: dict of array-likes.
        metadata: optional `{str: str}` stored in the file header.
    """
    import safetensors.numpy

    arrays = {name: np.array(to_numpy(a), order="C") for name, a in tensors.items()}
    safetensors.numpy.save_file(arrays, os.fspath(path), metadata=metadata)


def find_weights_file(directory, candidates):
    """The first of `candidates` present in `directory`.

    Raises a ValueError listing the candidates when none is there. (A
    PyTorch file found here still needs torch: `load_tensors` says so.)
    """
    for name in candidates:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise ValueError(
        f"No weights file in {directory!r}: expected one of {list(candidates)}. "
        f"Found: {sorted(os.listdir(directory))}"
    )
