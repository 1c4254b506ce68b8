"""The TensorBoard tags of what a run logs every epoch, named so TensorBoard shows the loss first.

TensorBoard groups tags by their first path part and sorts the groups with digits before letters;
Time Series opens only its first two groups. So the total loss is `1_loss/train`, `1_loss/val` and
`1_loss/best_val` (the best validation loss so far: its last point is best.pt's), every other term
`2_terms/<term>/train` beside `2_terms/<term>/val`, then `3_optim/lr` and `4_time/epoch_seconds`;
the pictures' groups (`filters`, `latent`, `reconstructions`, ...) follow, as letters sort after
digits. The end of a run adds `5_final/<key>` (aecli.report.hparams).
"""

from __future__ import annotations

LOSS = "1_loss"
BEST_VAL = f"{LOSS}/best_val"
TERMS = "2_terms"
LEARNING_RATE = "3_optim/lr"
EPOCH_SECONDS = "4_time/epoch_seconds"
FINAL = "5_final"
SPLITS = ("train", "val")


def curve_tag(term: str, split: str) -> str:
    """The tag of loss term `term`'s curve on `split` ("train" or "val"): `1_loss/<split>` for the
    total, `2_terms/<term>/<split>` for every other term."""
    return f"{LOSS}/{split}" if term == "total" else f"{TERMS}/{term}/{split}"
