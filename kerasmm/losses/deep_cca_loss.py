"""Deep CCA: the negative total canonical correlation of two views."""

import keras
from keras import ops

from kerasmm.distribute import all_gather
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.tensor_checks import check_batch_at_least


@keras.saving.register_keras_serializable(package="kerasmm")
class DeepCCALoss(keras.losses.Loss):
    """Negative total canonical correlation of two views (Deep CCA).

    With the two views `H1`, `H2` of a batch of `m` examples centred, and

        S11 = H1' H1 / (m - 1) + r1 I,   S22 = H2' H2 / (m - 1) + r2 I,
        S12 = H1' H2 / (m - 1),          T = S11^(-1/2) S12 S22^(-1/2),

    the canonical correlations are the singular values of `T`, and the
    loss is minus their sum (all of them, or the `outdim_size` largest):
    Andrew et al.'s `corr(H1, H2)`, to be maximised. The inverse square
    roots come from `eigh` with eigenvalues clamped at `epsilon`, and the
    singular values are the square roots of the eigenvalues of the smaller
    of `T'T` and `TT'` (clamped at `epsilon` too, which keeps the gradient
    finite when the batch is smaller than the width). All of it runs in
    float32.

    The loss is a statistic of the whole batch, not a sum over examples:
    `call` returns it as a `(1,)` tensor (the default reduction makes it a
    scalar), and `sample_weight` is refused. Under a `tf.distribute`
    strategy both views are gathered from all replicas (with gradient,
    `kerasmm.distribute.all_gather`), so each replica computes the loss of
    the global batch and the gradients equal one-device training on it
    (keep the default reduction, which divides by the number of replicas
    as Keras does for per-example losses). Batches
    should be several times wider than `dim`: covariance estimates of
    small batches are poor, which is why the paper trains full-batch.

    On linear features (no network) the correlations are classical CCA's:
    the test compares them to scikit-learn's `CCA` to 1e-3.

    Args:
        outdim_size: `None` (sum every canonical correlation) or a positive
            int `k`: sum the `k` largest (the authors' code with
            `use_all_singular_values=False`).
        r1: float >= 0, ridge added to the first view's covariance.
        r2: float >= 0, ridge added to the second view's covariance.
        epsilon: float > 0, floor of the eigenvalues (see above).
        name: optional name of the loss.
        reduction: Keras reduction; keep the default (see above).

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: `(batch, 2, dim)`: the first view at `[:, 0]`, the second
            at `[:, 1]` (stack the two towers' outputs, e.g.
            `keras.ops.stack([h1, h2], axis=1)`, so that a plain
            `model.compile(loss=DeepCCALoss())` hands both to the loss).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(256, 2)).astype("float32")
    >>> view_a = np.concatenate([shared, rng.normal(size=(256, 1))], axis=1)
    >>> view_b = np.concatenate([-shared, rng.normal(size=(256, 1))], axis=1)
    >>> loss = DeepCCALoss(outdim_size=2, r1=0.0, r2=0.0)
    >>> pairs = np.stack([view_a, view_b], axis=1).astype("float32")
    >>> round(float(loss(None, pairs)), 3)   # two perfectly correlated directions
    -2.0
    >>> np.round(keras.ops.convert_to_numpy(
    ...     DeepCCALoss().canonical_correlations(view_a, view_b)), 2)
    array([1.  , 1.  , 0.04], dtype=float32)

    Reference:
        - [Andrew et al., 2013](https://proceedings.mlr.press/v28/andrew13.html)
    """

    def __init__(self, outdim_size=None, r1=1e-3, r2=1e-3, epsilon=1e-9,
                 name="deep_cca_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.outdim_size = check_positive_int("outdim_size", outdim_size,
                                              allow_none=True)
        self.r1 = check_number("r1", r1, minimum=0)
        self.r2 = check_number("r2", r2, minimum=0)
        self.epsilon = check_number("epsilon", epsilon, minimum=0,
                                    exclusive_minimum=True)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "DeepCCALoss is a statistic of the whole batch and takes no "
                f"sample weights. Received: sample_weight={sample_weight!r}"
            )
        # y_true is ignored; it is often None, which Keras' Loss.__call__
        # would try to convert to a tensor.
        return super().__call__(0.0, y_pred)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        shape = tuple(y_pred.shape)
        if len(shape) != 3 or shape[1] != 2:
            raise ValueError(
                "y_pred must have shape (batch, 2, dim): the first view at "
                f"[:, 0], the second at [:, 1]. Received: y_pred.shape={shape}"
            )
        total = ops.sum(self.canonical_correlations(y_pred[:, 0], y_pred[:, 1]))
        # Shape (1,), not (): Keras divides a non-scalar mean by the number
        # of replicas, which a gathered global-batch loss needs.
        return -ops.reshape(total, (1,))

    def canonical_correlations(self, view_a, view_b):
        """The canonical correlations the loss sums, largest first.

        Args:
            view_a: `(batch, dim_a)` first view.
            view_b: `(batch, dim_b)` second view (`dim_b` may differ).

        Returns:
            float32 `(k,)`: the `outdim_size` largest correlations, or all
            `min(dim_a, dim_b)` of them when `outdim_size` is None.
        """
        view_a = ops.cast(ops.convert_to_tensor(view_a), "float32")
        view_b = ops.cast(ops.convert_to_tensor(view_b), "float32")
        for name, view in (("view_a", view_a), ("view_b", view_b)):
            if len(view.shape) != 2:
                raise ValueError(f"{name} must be a 2D tensor (batch, dim). "
                                 f"Received: {name}.shape={tuple(view.shape)}")
        dim_a, dim_b = view_a.shape[1], view_b.shape[1]
        num_correlations = min(dim_a, dim_b)
        if self.outdim_size is not None and self.outdim_size > num_correlations:
            raise ValueError(
                "outdim_size must be <= min(dim_a, dim_b), the number of "
                f"canonical correlations. Received: outdim_size="
                f"{self.outdim_size}, dim_a={dim_a}, dim_b={dim_b}"
            )
        view_a, _ = all_gather(view_a)
        view_b, _ = all_gather(view_b)
        view_a = view_a - ops.mean(view_a, axis=0, keepdims=True)
        view_b = view_b - ops.mean(view_b, axis=0, keepdims=True)
        # Sample covariances divide by n - 1: one example would give inf / NaN.
        size = check_batch_at_least("batch size", ops.shape(view_a)[0], 2,
                                    "sample covariances need two examples or more")
        count = ops.cast(size - 1, "float32")
        cov_ab = ops.matmul(ops.transpose(view_a), view_b) / count
        # The static widths: gathering across replicas may hide them.
        cov_aa = self._covariance(view_a, dim_a, count, self.r1)
        cov_bb = self._covariance(view_b, dim_b, count, self.r2)
        t = ops.matmul(ops.matmul(self._inverse_sqrt(cov_aa), cov_ab),
                       self._inverse_sqrt(cov_bb))
        # Singular values of T from the eigenvalues of the smaller Gram matrix.
        if dim_a < dim_b:
            gram = ops.matmul(t, ops.transpose(t))
        else:
            gram = ops.matmul(ops.transpose(t), t)
        eigenvalues, _ = ops.eigh(_symmetrise(gram))
        correlations = ops.sqrt(ops.maximum(eigenvalues, self.epsilon))
        correlations = ops.flip(correlations, axis=0)  # eigh sorts ascending
        if self.outdim_size is not None:
            correlations = correlations[: self.outdim_size]
        return correlations

    def _covariance(self, view, dim, count, ridge):
        return (ops.matmul(ops.transpose(view), view) / count
                + ridge * ops.eye(dim, dtype="float32"))

    def _inverse_sqrt(self, matrix):
        eigenvalues, eigenvectors = ops.eigh(_symmetrise(matrix))
        scale = ops.rsqrt(ops.maximum(eigenvalues, self.epsilon))
        return ops.matmul(eigenvectors * scale[None, :],
                          ops.transpose(eigenvectors))

    def get_config(self):
        config = super().get_config()
        config.update({
            "outdim_size": self.outdim_size,
            "r1": self.r1,
            "r2": self.r2,
            "epsilon": self.epsilon,
        })
        return config


def _symmetrise(matrix):
    # Round-off makes products of symmetric matrices slightly asymmetric;
    # eigh reads one triangle only, so average the two.
    return 0.5 * (matrix + ops.transpose(matrix))
