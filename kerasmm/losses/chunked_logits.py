"""Row reductions of a logit matrix, optionally without materialising it.

The contrastive losses need, for each query row `i`, a reduction over all
columns `j` of the logits `z_ij = scale * <q_i, k_j> + bias`:

- `"logsumexp"`: `log sum_j exp(z_ij)` (softmax cross-entropy),
- `"softplus"`: `sum_j softplus(z_ij)` (pairwise sigmoid loss).

With `chunk_size=None` the whole `(num_queries, num_keys)` matrix is built
and differentiated by the backend. With a `chunk_size`, keys are processed
`chunk_size` at a time in a loop, both forward (an online logsumexp, or a
running sum) and backward (a custom gradient that recomputes each chunk's
logits), so peak memory grows with `num_queries * chunk_size`, not with
`num_queries * num_keys`. Both paths agree to float32 round-off.
"""

import math

from keras import ops

REDUCTIONS = ("logsumexp", "softplus")


def row_sum(x):
    """`sum(x, axis=1)` of a 2-D float tensor, as a matrix-vector product.

    XLA rewrites `mean(sum(x, axis=1))` (what Keras does with per-example
    losses) into one sequential float32 sum over all `B^2` elements: once
    that sum is large, small terms vanish (TF, XLA CPU: SigLIP's loss at
    B=4096 came out 10.136 instead of 10.206). A dot product is never
    fused into that reduction and sums each row on its own.
    """
    ones = ops.ones((ops.shape(x)[1], 1), dtype=x.dtype)
    return ops.matmul(x, ones)[:, 0]


def row_reduce(queries, keys, scale, bias, reduction, chunk_size=None):
    """Per-row reduction of `z = scale * queries @ keys.T + bias`.

    Args:
        queries: float32 tensor `(num_queries, dim)`.
        keys: float32 tensor `(num_keys, dim)`.
        scale: float32 scalar tensor.
        bias: float32 scalar tensor.
        reduction: `"logsumexp"` or `"softplus"`.
        chunk_size: `None` (materialise all logits) or a positive int.

    Returns:
        float32 tensor `(num_queries,)`.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {REDUCTIONS}. "
            f"Received: reduction={reduction}"
        )
    if chunk_size is None:
        logits = scale * ops.matmul(queries, ops.transpose(keys)) + bias
        if reduction == "logsumexp":
            return ops.logsumexp(logits, axis=1)
        return row_sum(ops.softplus(logits))
    return _chunked_row_reduce(queries, keys, scale, bias, reduction,
                               chunk_size)


def _chunked_row_reduce(queries, keys, scale, bias, reduction, chunk_size):
    dim = ops.shape(keys)[1]

    @ops.custom_gradient
    def reduce(q, k, s, b):
        num_keys = ops.shape(k)[0]
        num_chunks = (num_keys + chunk_size - 1) // chunk_size
        k_padded = ops.pad(k, [[0, num_chunks * chunk_size - num_keys], [0, 0]])

        def chunk(i):
            start = i * chunk_size
            k_chunk = ops.slice(k_padded, [start, 0], [chunk_size, dim])
            valid = (start + ops.arange(chunk_size)) < num_keys
            dots = ops.matmul(q, ops.transpose(k_chunk))
            logits = ops.where(valid[None, :], s * dots + b, -math.inf)
            return start, k_chunk, valid, dots, logits

        if reduction == "logsumexp":
            # Online logsumexp: running max `m` and sum of exp(z - m).
            def forward(i, carry):
                running_max, total = carry
                logits = chunk(i)[-1]
                new_max = ops.maximum(running_max, ops.max(logits, axis=1))
                total = total * ops.exp(running_max - new_max) + ops.sum(
                    ops.exp(logits - new_max[:, None]), axis=1
                )
                return new_max, total

            init = (ops.full_like(q[:, 0], -math.inf), ops.zeros_like(q[:, 0]))
            running_max, total = ops.fori_loop(0, num_chunks, forward, init)
            output = running_max + ops.log(total)
        else:

            def forward(i, total):
                logits = chunk(i)[-1]
                return total + ops.sum(ops.softplus(logits), axis=1)

            output = ops.fori_loop(0, num_chunks, forward,
                                   ops.zeros_like(q[:, 0]))

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args

            def backward(i, carry):
                grad_q, grad_k, grad_s, grad_b = carry
                start, k_chunk, valid, dots, logits = chunk(i)
                # d output_i / d z_ij: softmax for logsumexp, sigmoid for the
                # softplus sum; padded columns have z = -inf, hence weight 0.
                if reduction == "logsumexp":
                    weights = ops.exp(logits - output[:, None])
                else:
                    weights = ops.sigmoid(logits)
                weights = weights * upstream[:, None]
                grad_q = grad_q + s * ops.matmul(weights, k_chunk)
                grad_k = ops.slice_update(
                    grad_k, [start, 0],
                    s * ops.matmul(ops.transpose(weights), q),
                )
                grad_s = grad_s + ops.sum(weights * dots)
                grad_b = grad_b + ops.sum(weights)
                return grad_q, grad_k, grad_s, grad_b

            init = (
                ops.zeros_like(q),
                ops.zeros_like(k_padded),
                ops.zeros_like(s),
                ops.zeros_like(b),
            )
            grad_q, grad_k, grad_s, grad_b = ops.fori_loop(
                0, num_chunks, backward, init
            )
            return grad_q, grad_k[:num_keys], grad_s, grad_b

        return output, grad

    return reduce(queries, keys, scale, bias)
