"""GradCache: a contrastive train step whose batch is split into micro-batches.

A contrastive loss couples every example of the batch to every other one (the
negatives), so the batch cannot be cut into independent micro-batches. GradCache
(Gao et al., 2021) keeps the full-batch loss and only splits the towers:

1. embed every micro-batch without recording gradients;
2. compute the loss over the whole batch from those embeddings, and its
   gradient `g` w.r.t. the embeddings (and w.r.t. the weights the loss reads
   directly, such as `logit_scale` and `logit_bias`);
3. re-run each micro-batch with gradients and back-propagate `g` through it: the
   gradient of the surrogate `sum(stop_gradient(g) * embeddings)` is the
   vector-Jacobian product, summed over micro-batches into the full-batch
   parameter gradient;

then apply one optimizer step. Both passes over the micro-batches are loops
(`jax.lax.scan` on JAX, `tf.while_loop` with one iteration at a time on
TensorFlow), not unrolled Python loops, so the compiled step holds one
micro-batch's activations at a time (plus the `(batch, dim)` embeddings);
the price is one extra forward pass. On TensorFlow the loop sums the
gradients densely: a sparse token-embedding gradient becomes a dense one.
"""

import keras
from keras import ops

from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.utils.checks import check_positive_int


def check_accumulation_steps(accumulation_steps, loss):
    """Validates `compile(accumulation_steps=...)` for `loss` and the backend."""
    accumulation_steps = check_positive_int("accumulation_steps", accumulation_steps)
    if accumulation_steps == 1:
        return accumulation_steps
    if not isinstance(loss, ContrastiveLoss):
        raise ValueError(
            "accumulation_steps > 1 needs a kerasmm.losses.ContrastiveLoss (for "
            "other losses use the optimizer's gradient_accumulation_steps). "
            f"Received: loss={loss!r}, accumulation_steps={accumulation_steps}"
        )
    if keras.backend.backend() not in ("tensorflow", "jax"):
        raise ValueError(
            "accumulation_steps > 1 needs the TensorFlow or JAX backend. Received: "
            f"accumulation_steps={accumulation_steps} on the "
            f"{keras.backend.backend()!r} backend"
        )
    return accumulation_steps


def _strided(tensor, steps):
    """`tensor` `(batch, ...)` as `(batch / steps, steps, ...)`, with a clear
    error when `steps` does not divide the batch."""
    size = tensor.shape[0]
    message = (
        "The batch size must be divisible by accumulation_steps. Received: "
        f"batch size {'(dynamic)' if size is None else size}, "
        f"accumulation_steps={steps}"
    )
    if size is not None and size % steps:
        raise ValueError(message)
    if size is None:  # TensorFlow graphs with a dynamic batch.
        import tensorflow as tf

        check = tf.debugging.assert_equal(tf.shape(tensor)[0] % steps, 0,
                                          message=message)
        with tf.control_dependencies([check]):
            tensor = tf.identity(tensor)
    return ops.reshape(tensor, (-1, steps) + tuple(ops.shape(tensor)[1:]))


def stack_micro_batches(structure, steps):
    """`structure` (a nest of `(batch, ...)` tensors) with each leaf as
    `(steps, batch / steps, ...)`: micro-batch `i` (`leaf[i]`) holds rows
    `i, i + steps, ...`, ready for a loop over the leading axis.

    Strided rather than contiguous: under JAX data parallelism every
    micro-batch then takes rows from every device's shard.
    """
    def stack(leaf):
        leaf = _strided(ops.convert_to_tensor(leaf), steps)
        return ops.swapaxes(leaf, 0, 1)

    return keras.tree.map_structure(stack, structure)


def unstack_outputs(stacked):
    """The inverse of `stack_micro_batches` on stacked model outputs:
    `(steps, micro, ...)` entries interleaved back into batch order, and
    scalars (stacked as `(steps,)`, the same in every micro-batch, e.g.
    `logit_scale`) taken from the first micro-batch."""
    def unstack(leaf):
        if len(leaf.shape) == 1:
            return leaf[0]
        leaf = ops.swapaxes(leaf, 0, 1)
        return ops.reshape(leaf, (-1,) + tuple(ops.shape(leaf)[2:]))

    return keras.tree.map_structure(unstack, stacked)


def _call(model, x):
    if model._call_has_training_arg:
        return model(x, training=True)
    return model(x)


def _extra_losses(model):
    extras = [ops.cast(model._aggregate_additional_loss(e), "float32")
              for e in model.losses]
    return ops.sum(ops.stack(extras)) if extras else ops.zeros((), "float32")


def _surrogate(output, output_grads):
    """`sum(output * stop_gradient(g))`: its gradient w.r.t. the weights is
    the vector-Jacobian product of the cached gradients. Scalar outputs
    get a zero `g` past the first micro-batch (`unstack_outputs`)."""
    total = ops.zeros((), "float32")
    for leaf, grad in zip(keras.tree.flatten(output), keras.tree.flatten(output_grads)):
        if grad is not None:
            total += ops.sum(ops.cast(leaf, "float32") * ops.cast(grad, "float32"))
    return total


def _contrastive_loss(model, y, y_pred, sample_weight):
    loss = ops.cast(model.loss(y, y_pred, sample_weight), "float32")
    weight = getattr(model, "_contrastive_loss_weight", None)
    return loss if weight is None else loss * weight


def grad_cache_train_step(model, data, steps):
    """One GradCache `fit` step of a `ContrastiveLossMixin` model (TensorFlow).

    Both passes over the micro-batches are `tf.while_loop`s run one
    iteration at a time, so only one micro-batch's activations are alive.

    Args:
        model: a compiled model mixing in `kerasmm.losses.ContrastiveLossMixin`
            whose `call` returns the contrastive output dict.
        data: the batch `fit` hands to `train_step`.
        steps: int >= 2, the number of micro-batches.

    Returns:
        The logs of the step (`model.compute_metrics` on the whole batch).
    """
    import tensorflow as tf
    from keras.src.losses.loss import unscale_loss_for_distribution

    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    stacked_x = stack_micro_batches(x, steps)
    weights = model.trainable_weights

    def micro_batch(i):
        return keras.tree.map_structure(lambda t: t[i], stacked_x)

    def scale(loss):
        return model.optimizer.scale_loss(loss) if model.optimizer else loss

    # 1. Embed every micro-batch, without a tape. The first runs outside the
    # loop to give the outputs' structure and dtypes.
    first = keras.tree.map_structure(tf.stop_gradient, _call(model, micro_batch(0)))
    arrays = keras.tree.map_structure(
        lambda t: tf.TensorArray(t.dtype, size=steps, element_shape=t.shape).write(0, t),
        first)

    def embed(i, arrays):
        output = keras.tree.map_structure(tf.stop_gradient, _call(model, micro_batch(i)))
        arrays = keras.tree.map_structure(lambda a, t: a.write(i, t), arrays, output)
        return i + 1, arrays

    _, arrays = tf.while_loop(lambda i, _: i < steps, embed, (tf.constant(1), arrays),
                              parallel_iterations=1)
    stacked = keras.tree.map_structure(lambda a: a.stack(), arrays)

    # 2. The loss over the whole batch and its gradient w.r.t. the outputs.
    with tf.GradientTape() as tape:
        tape.watch(keras.tree.flatten(stacked))
        y_pred = unstack_outputs(stacked)
        loss = _contrastive_loss(model, y, y_pred, sample_weight)
        scaled = scale(loss)
    output_grads, direct_grads = tape.gradient(scaled, (stacked, weights))

    # 3. Back-propagate the cached gradients through each micro-batch, the
    # gradients summed in the loop's carry (dense: a loop carries tensors).
    def backward(i, gradients, extras_total):
        with tf.GradientTape() as tape:
            output = _call(model, micro_batch(i))
            grads = keras.tree.map_structure(lambda g: None if g is None else g[i],
                                             output_grads)
            extras = _extra_losses(model) / steps
            surrogate = _surrogate(output, grads) + scale(extras)
        micro_grads = tape.gradient(surrogate, weights)
        gradients = [total if g is None else total + tf.convert_to_tensor(g)
                     for total, g in zip(gradients, micro_grads)]
        return i + 1, gradients, extras_total + extras

    zeros = [tf.zeros(w.shape, w.dtype) for w in weights]
    _, gradients, extras_total = tf.while_loop(
        lambda i, *_: i < steps, backward,
        (tf.constant(0), zeros, tf.zeros((), "float32")), parallel_iterations=1)
    gradients = [g if d is None else g + tf.convert_to_tensor(d)  # logit_scale, ...
                 for g, d in zip(gradients, direct_grads)]

    if weights:
        model.optimizer.apply_gradients(zip(gradients, weights))
    batch = tf.shape(next(t for t in keras.tree.flatten(x) if t is not None))[0]
    model._loss_tracker.update_state(
        unscale_loss_for_distribution(loss + extras_total), sample_weight=batch)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def grad_cache_train_step_jax(model, state, data, steps):
    """The JAX (stateless) version of `grad_cache_train_step`.

    Both passes over the micro-batches are `jax.lax.scan`s: one compiled
    body whose buffers are reused, so only one micro-batch's activations
    are alive (an unrolled Python loop lets XLA keep them all).

    Args:
        model: as in `grad_cache_train_step`.
        state: the `(trainable, non_trainable, optimizer, metrics)`
            variable values Keras' JAX trainer passes to `train_step`.
        data: the batch.
        steps: int >= 2, the number of micro-batches.

    Returns:
        `(logs, state)`, as Keras' JAX `train_step`.
    """
    import jax

    trainable, non_trainable, optimizer_variables, metrics_variables = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    stacked_x = stack_micro_batches(x, steps)
    kwargs = {"training": True} if model._call_has_training_arg else {}
    optimizer_mapping = list(zip(model.optimizer.variables, optimizer_variables))

    def scale(loss):
        with keras.StatelessScope(state_mapping=optimizer_mapping):
            return model.optimizer.scale_loss(loss)

    # 1. Embed every micro-batch (no gradient is taken through this pass).
    def embed(non_trainable, micro):
        output, non_trainable = model.stateless_call(trainable, non_trainable, micro,
                                                     **kwargs)
        return non_trainable, jax.lax.stop_gradient(output)

    non_trainable, stacked = jax.lax.scan(embed, non_trainable, stacked_x)

    # 2. The loss over the whole batch and its gradient w.r.t. the outputs.
    def batch_loss(stacked):
        loss = _contrastive_loss(model, y, unstack_outputs(stacked), sample_weight)
        return scale(loss), loss

    (_, loss), output_grads = jax.value_and_grad(batch_loss, has_aux=True)(stacked)

    # 3. Back-propagate the cached gradients through each micro-batch.
    def backward(carry, inputs):
        gradients, non_trainable, extras_total = carry
        micro, grads = inputs

        def surrogate(trainable, non_trainable):
            output, non_trainable, losses = model.stateless_call(
                trainable, non_trainable, micro, return_losses=True, **kwargs)
            extras = ops.zeros((), "float32")
            for extra in losses:
                extras += ops.cast(model._aggregate_additional_loss(extra), "float32")
            extras = extras / steps
            return _surrogate(output, grads) + scale(extras), (non_trainable, extras)

        (_, (non_trainable, extras)), micro_grads = jax.value_and_grad(
            surrogate, has_aux=True)(trainable, non_trainable)
        gradients = jax.tree_util.tree_map(ops.add, gradients, micro_grads)
        return (gradients, non_trainable, extras_total + extras), None

    zeros = jax.tree_util.tree_map(ops.zeros_like, trainable)
    (gradients, non_trainable, extras_total), _ = jax.lax.scan(
        backward, (zeros, non_trainable, ops.zeros((), "float32")),
        (stacked_x, output_grads))

    trainable, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, gradients, trainable)
    logs, metrics_variables = model._update_metrics_variables(
        metrics_variables, loss + extras_total, x, y, unstack_outputs(stacked),
        sample_weight)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)
