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

then apply one optimizer step. Peak activation memory is that of one
micro-batch (plus the `(batch, dim)` embeddings); the price is one extra
forward pass.
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


def split_micro_batches(structure, steps):
    """`structure` (a nest of `(batch, ...)` tensors) as `steps` nests of
    micro-batches; micro-batch `i` holds rows `i, i + steps, ...`.

    Strided rather than contiguous: under JAX data parallelism every
    micro-batch then takes rows from every device's shard.
    """
    flat = [_strided(ops.convert_to_tensor(leaf), steps)
            for leaf in keras.tree.flatten(structure)]
    return [keras.tree.pack_sequence_as(structure, [leaf[:, i] for leaf in flat])
            for i in range(steps)]


def merge_micro_batches(outputs):
    """The inverse of `split_micro_batches` on a list of model outputs:
    batched entries interleaved back into batch order, scalars (the same in
    every micro-batch, e.g. `logit_scale`) taken from the first."""
    def merge(*parts):
        if len(parts[0].shape) == 0:
            return parts[0]
        stacked = ops.stack(parts, axis=1)
        return ops.reshape(stacked, (-1,) + tuple(ops.shape(parts[0])[1:]))

    return keras.tree.map_structure(merge, *outputs)


def _call(model, x):
    if model._call_has_training_arg:
        return model(x, training=True)
    return model(x)


def _extra_losses(model):
    extras = [ops.cast(model._aggregate_additional_loss(e), "float32")
              for e in model.losses]
    return ops.sum(ops.stack(extras)) if extras else None


def _add(total, gradient):
    """`total + gradient`; None is zero, and two sparse gradients (token
    embeddings) stay sparse: their slices are concatenated."""
    import tensorflow as tf

    if gradient is None or total is None:
        return total if gradient is None else gradient
    if isinstance(total, tf.IndexedSlices) and isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(
            tf.concat([total.values, gradient.values], axis=0),
            tf.concat([total.indices, gradient.indices], axis=0),
            total.dense_shape)
    return tf.convert_to_tensor(total) + tf.convert_to_tensor(gradient)


def grad_cache_train_step(model, data, steps):
    """One GradCache `fit` step of a `ContrastiveLossMixin` model (TensorFlow).

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
    micro_x = split_micro_batches(x, steps)
    weights = model.trainable_weights

    # 1. Embed every micro-batch, without a tape.
    outputs = [_call(model, micro_x[0])]
    for i in range(1, steps):
        # Sequential: the next micro-batch starts after the previous one.
        with tf.control_dependencies(keras.tree.flatten(outputs[-1])):
            outputs.append(_call(model, keras.tree.map_structure(tf.identity, micro_x[i])))

    # 2. The loss over the whole batch and its gradient w.r.t. the outputs.
    leaves = [[tf.stop_gradient(t) for t in keras.tree.flatten(o)] for o in outputs]
    with tf.GradientTape() as tape:
        for micro in leaves:
            tape.watch(micro)
        packed = [keras.tree.pack_sequence_as(o, micro) for o, micro in zip(outputs, leaves)]
        y_pred = merge_micro_batches(packed)
        loss = ops.cast(model.loss(y, y_pred, sample_weight), "float32")
        weight = getattr(model, "_contrastive_loss_weight", None)
        if weight is not None:
            loss = loss * weight
        scaled = model.optimizer.scale_loss(loss) if model.optimizer else loss
    output_grads, direct_grads = tape.gradient(scaled, (leaves, weights))
    gradients = list(direct_grads)  # The weights the loss reads directly.

    # 3. Back-propagate the cached gradients through each micro-batch.
    extras_total = None
    for i in range(steps):
        dependencies = [g for g in gradients if g is not None]
        with tf.control_dependencies(dependencies):
            micro = keras.tree.map_structure(tf.identity, micro_x[i])
        with tf.GradientTape() as tape:
            micro_leaves = keras.tree.flatten(_call(model, micro))
            surrogate = ops.zeros((), "float32")
            for leaf, grad in zip(micro_leaves, output_grads[i]):
                # Scalars (logit_scale, ...) appear once in the merged loss.
                if grad is None or (len(leaf.shape) == 0 and i > 0):
                    continue
                surrogate += ops.sum(ops.cast(leaf, "float32") * tf.stop_gradient(grad))
            extras = _extra_losses(model)
            if extras is not None:
                extras = extras / steps
                extras_total = _add(extras_total, extras)
                surrogate += (model.optimizer.scale_loss(extras)
                              if model.optimizer else extras)
        micro_grads = tape.gradient(surrogate, weights)
        gradients = [_add(total, g) for total, g in zip(gradients, micro_grads)]

    if weights:
        model.optimizer.apply_gradients(zip(gradients, weights))
    total_loss = _add(loss, extras_total)
    batch = tf.shape(next(t for t in keras.tree.flatten(x) if t is not None))[0]
    model._loss_tracker.update_state(
        unscale_loss_for_distribution(total_loss), sample_weight=batch)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def grad_cache_train_step_jax(model, state, data, steps):
    """The JAX (stateless) version of `grad_cache_train_step`.

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
    micro_x = split_micro_batches(x, steps)
    kwargs = {"training": True} if model._call_has_training_arg else {}
    optimizer_mapping = list(zip(model.optimizer.variables, optimizer_variables))

    def scale(loss):
        with keras.StatelessScope(state_mapping=optimizer_mapping):
            return model.optimizer.scale_loss(loss)

    # 1. Embed every micro-batch (no gradient is taken through this pass).
    outputs = []
    for micro in micro_x:
        output, non_trainable = model.stateless_call(trainable, non_trainable, micro,
                                                     **kwargs)
        outputs.append(jax.lax.stop_gradient(output))

    # 2. The loss over the whole batch and its gradient w.r.t. the outputs.
    def batch_loss(outputs):
        loss = ops.cast(model.loss(y, merge_micro_batches(outputs), sample_weight),
                        "float32")
        weight = getattr(model, "_contrastive_loss_weight", None)
        loss = loss if weight is None else loss * weight
        return scale(loss), loss

    (_, loss), output_grads = jax.value_and_grad(batch_loss, has_aux=True)(outputs)

    # 3. Back-propagate the cached gradients through each micro-batch.
    gradients = jax.tree_util.tree_map(ops.zeros_like, trainable)
    extras_total = ops.zeros((), "float32")
    for i, micro in enumerate(micro_x):
        def surrogate(trainable, non_trainable, micro=micro, i=i):
            output, non_trainable, losses = model.stateless_call(
                trainable, non_trainable, micro, return_losses=True, **kwargs)
            total = ops.zeros((), "float32")
            for leaf, grad in zip(keras.tree.flatten(output),
                                  keras.tree.flatten(output_grads[i])):
                if len(leaf.shape) == 0 and i > 0:
                    continue  # Scalars appear once in the merged loss.
                total += ops.sum(ops.cast(leaf, "float32") * grad)
            extras = ops.zeros((), "float32")
            for extra in losses:
                extras += ops.cast(model._aggregate_additional_loss(extra), "float32")
            extras = extras / steps
            return total + scale(extras), (non_trainable, extras)

        (_, (non_trainable, extras)), micro_grads = jax.value_and_grad(
            surrogate, has_aux=True)(trainable, non_trainable)
        gradients = jax.tree_util.tree_map(ops.add, gradients, micro_grads)
        extras_total += extras

    trainable, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, gradients, trainable)
    logs, metrics_variables = model._update_metrics_variables(
        metrics_variables, loss + extras_total, x, y, merge_micro_batches(outputs),
        sample_weight)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)
