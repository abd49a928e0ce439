"""Reference: the official VALOR training loss, transcribed for the loss tests.

Repository: https://github.com/Franklin905/VALOR
Commit:     2677da9ff4d40a7e035e7843ace1e5e91d7275bc (main_avvp.py unchanged since f20c7c5,
            "Initial release")
File:       main_avvp.py: train(), lines 70-77 verbatim (the model call's outputs and the loss
            terms), with `criterion` as line 371 creates it. The function's signature is the
            transcription's only addition.
"""
import torch.nn as nn
import torch.nn.functional as F


def official_valor_loss(model_outputs, labels, audio_pseudo_labels, visual_pseudo_labels):
    criterion = nn.BCELoss()                                                    # main_avvp.py:371

    output, _, _, _, frame_logits = model_outputs                               # main_avvp.py:70
    output.clamp_(min=1e-7, max=1 - 1e-7)

    loss_video = criterion(output, labels)
    loss_valor_a = F.binary_cross_entropy_with_logits(frame_logits[:, :, 0], audio_pseudo_labels)
    loss_valor_v = F.binary_cross_entropy_with_logits(frame_logits[:, :, 1], visual_pseudo_labels)

    loss = loss_valor_a + loss_valor_v + loss_video
    return loss
