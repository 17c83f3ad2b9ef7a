"""Route a contrastive loss and metrics to the whole output dict of a model."""

import keras
from keras import ops

from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.losses.grad_cache import check_accumulation_steps
from kerasmm.losses.grad_cache import grad_cache_train_step
from kerasmm.losses.grad_cache import grad_cache_train_step_jax


class ContrastiveLossMixin:
    """Mixin that lets `compile` / `fit` use kerasmm contrastive losses.

    A contrastive model returns a dict (`{"image_embeddings",
    "text_embeddings", "logit_scale", ...}`) and its loss needs all of it at
    once. Keras' `compile(loss=...)` would instead apply a single loss to
    *each* entry of a dict output, and its metrics likewise. Mix this class
    in front of `keras.Model` to get:

    - `compute_loss`: when the compiled loss is a
      `kerasmm.losses.ContrastiveLoss`, it is called with the whole `y_pred`
      dict (and `y`, which may be `None`: datasets may yield features
      only), plus the model's own losses (regularisers, `add_loss`) as
      Keras' `Trainer.compute_loss` adds them. Any other loss goes to Keras
      unchanged.
    - `compile(metrics=[...])`: metrics whose class sets
      `takes_output_dict = True` (such as `kerasmm.metrics.RecallAtK`) are
      kept aside, updated with the whole `y_pred` dict in
      `compute_metrics`, listed in `model.metrics` (so they appear in `fit`
      and `evaluate` logs and are reset each epoch); other metrics go to
      Keras as usual.

    Works with `fit` and `evaluate` on TensorFlow (with any
    `tf.distribute` strategy) and JAX.

    Example:

    >>> class TwoTowers(kerasmm.losses.ContrastiveLossMixin, keras.Model):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.image_tower = keras.layers.Dense(8)
    ...         self.text_tower = keras.layers.Dense(8)
    ...         self.logit_scale = self.add_weight(
    ...             shape=(), initializer=keras.initializers.Constant(2.6592))
    ...
    ...     def call(self, inputs):
    ...         return {
    ...             "image_embeddings": keras.ops.normalize(
    ...                 self.image_tower(inputs["images"]), axis=-1),
    ...             "text_embeddings": keras.ops.normalize(
    ...                 self.text_tower(inputs["texts"]), axis=-1),
    ...             "logit_scale": keras.ops.convert_to_tensor(self.logit_scale),
    ...         }
    >>> model = TwoTowers()
    >>> model.compile(optimizer="adam", loss=kerasmm.losses.CLIPLoss())
    >>> features = {"images": np.random.default_rng(0).normal(size=(16, 4)),
    ...             "texts": np.random.default_rng(1).normal(size=(16, 6))}
    >>> history = model.fit(features, batch_size=8, epochs=2, verbose=0)
    >>> len(history.history["loss"]), bool(np.isfinite(history.history["loss"]).all())
    (2, True)
    """

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None,
                metrics=None, weighted_metrics=None, accumulation_steps=1,
                **kwargs):
        """Keras' `compile`, plus `accumulation_steps` for contrastive losses.

        `accumulation_steps=k` (an int >= 1; > 1 needs a
        `kerasmm.losses.ContrastiveLoss` and the TensorFlow or JAX backend) splits
        each batch `fit` gets into `k` equal micro-batches (the batch size
        must be divisible by `k`) to cut activation memory, while the batch
        stays the contrastive batch: every example still sees all the
        batch's negatives. The train step is GradCache (Gao et al., 2021;
        `kerasmm.losses.grad_cache`): embed all micro-batches without
        gradient, compute the loss and its gradient w.r.t. the embeddings
        (and `logit_scale` / `logit_bias`) over the whole batch, re-run each
        micro-batch with gradient to back-propagate the cached embedding
        gradients, and take one optimizer step. Gradients equal those of
        `k=1` up to float round-off, at the cost of one extra forward pass.
        It works under `tf.distribute` strategies (the loss still gathers
        every replica's embeddings), JAX's `DataParallel` and with the
        losses' `chunk_size`.

        Keras' `optimizer.gradient_accumulation_steps` does *not* do this:
        it runs `fit` on each micro-batch as a batch of its own and averages
        the gradients of the per-micro-batch losses, so each example is
        contrasted only against its micro-batch's negatives (`k` times fewer,
        a different and easier objective).

        Forward passes must be deterministic for the gradients to be exact:
        with dropout (or patch dropout) the re-run draws other masks than
        the embedding pass. BatchNorm towers see per-micro-batch statistics
        (and update their moving averages in both passes); lock them with
        frozen statistics (`kerasmm.models.clip.lock_tower`) for exactness.
        """
        accumulation_steps = check_accumulation_steps(accumulation_steps, loss)
        output_dict_metrics, other_metrics = _split_metrics(metrics)
        contrastive = isinstance(loss, ContrastiveLoss)
        if contrastive and loss_weights is not None and (
            isinstance(loss_weights, bool)
            or not isinstance(loss_weights, (int, float))
        ):
            raise ValueError(
                "With a ContrastiveLoss, loss_weights must be None or a "
                f"number. Received: loss_weights={loss_weights}"
            )
        super().compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=None if contrastive else loss_weights,
            metrics=other_metrics,
            weighted_metrics=weighted_metrics,
            **kwargs,
        )
        if contrastive:
            # Keras' CompileLoss would map the loss onto each output entry;
            # compute_loss calls `self.loss` on the whole dict instead.
            self._compile_loss = None
        # object.__setattr__: no Keras attribute tracking, so recompiling
        # replaces these metrics instead of accumulating them.
        object.__setattr__(self, "_output_dict_metrics",
                           tuple(output_dict_metrics))
        object.__setattr__(self, "_contrastive_loss_weight",
                           loss_weights if contrastive else None)
        object.__setattr__(self, "_user_compile_metrics", metrics)
        object.__setattr__(self, "accumulation_steps", accumulation_steps)

    def train_step(self, *args, **kwargs):
        steps = getattr(self, "accumulation_steps", 1)
        if steps == 1:
            return super().train_step(*args, **kwargs)
        if keras.backend.backend() == "jax":  # (state, data) -> (logs, state)
            return grad_cache_train_step_jax(self, *args, steps=steps, **kwargs)
        logs = grad_cache_train_step(self, *args, steps=steps, **kwargs)
        # Under several TF workers, MultiWorkerTrainerMixin reshapes the logs.
        multi_worker_logs = getattr(self, "_multi_worker_logs", None)
        return multi_worker_logs(logs) if multi_worker_logs else logs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        if not isinstance(self.loss, ContrastiveLoss):
            return super().compute_loss(
                x, y, y_pred, sample_weight, training=training
            )
        # Loss.__call__ averages over the local batch and divides by the
        # number of replicas, as Keras' CompileLoss would.
        loss = ops.cast(self.loss(y, y_pred, sample_weight), "float32")
        weight = getattr(self, "_contrastive_loss_weight", None)
        if weight is not None:
            loss = loss * weight
        losses = [loss]
        for extra in self.losses:
            losses.append(
                ops.cast(self._aggregate_additional_loss(extra), "float32")
            )
        return losses[0] if len(losses) == 1 else ops.sum(ops.stack(losses))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        for metric in getattr(self, "_output_dict_metrics", ()):
            metric.update_state(y, y_pred)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    @property
    def metrics(self):
        metrics = super().metrics
        if self.compiled:
            metrics = metrics + list(getattr(self, "_output_dict_metrics", ()))
        return metrics

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and getattr(self, "accumulation_steps", 1) != 1:
            config["accumulation_steps"] = self.accumulation_steps
        if config and getattr(self, "_output_dict_metrics", ()):
            config["metrics"] = keras.saving.serialize_keras_object(
                self._user_compile_metrics
            )
        return config

    def compile_from_config(self, config):
        # Keras skips models that override `compile`; this one knows how.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)


def _split_metrics(metrics):
    """Splits `metrics` into (output-dict metrics, the rest for Keras)."""
    if not isinstance(metrics, (list, tuple)):
        return [], metrics
    output_dict = [m for m in metrics if getattr(m, "takes_output_dict", False)]
    rest = [m for m in metrics if not getattr(m, "takes_output_dict", False)]
    return output_dict, (rest or None)
