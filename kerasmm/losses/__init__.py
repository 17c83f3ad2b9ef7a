"""kerasmm.losses: global-batch contrastive losses.

Every loss takes the model output (a CLIP output dict, or anchors and
positives) as `y_pred`, ignores `y_true`, gathers embeddings across replicas
and computes float32 per-example losses for this replica's rows of the
global logit matrix.
"""

from kerasmm.losses.clip_loss import CLIPLoss
from kerasmm.losses.coca_loss import CoCaLoss
from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.losses.deep_cca_loss import DeepCCALoss
from kerasmm.losses.info_nce import InfoNCE
from kerasmm.losses.model_mixin import ContrastiveLossMixin
from kerasmm.losses.nce_loss import NCELoss
from kerasmm.losses.siglip_loss import SigLIPLoss
from kerasmm.losses.vqa_soft_score_loss import VQASoftScoreLoss
from kerasmm.losses.vqa_soft_score_loss import vqa_soft_scores
