"""Reference: LFAV's stage-1 loss on each modality's video-level labels (--real_av_labels),
transcribed for the loss tests.

Repository: https://github.com/GeWu-Lab/LFAV
Commit:     e17ad4d8d42355f568f2c0248476cc5ea07bbb1f (src/tools/train.py unchanged since 945d44d,
            "source code")
File:       src/tools/train.py: train(), lines 34, 36-37 (the targets where args.real_av_labels is
            set; `.to('cuda')` left out, the only change), 54 (the stage-1 model's outputs), 65-66
            and 75 verbatim, with `criterion` as src/main.py:255 creates it. `target` is what
            src/dataloader.py's MESSDatasetNew gives: [the video's labels, the audio labels,
            the visual labels]. The function's signature is the transcription's only addition.
"""
import torch
import torch.nn as nn


def official_stage1_loss(model_outputs, target):
    criterion = nn.BCELoss()                                                    # src/main.py:255

    target_video = target[0].type(torch.FloatTensor)                            # train.py:34
    target_a = target[1].type(torch.FloatTensor)                                # train.py:36
    target_v = target[2].type(torch.FloatTensor)                                # train.py:37

    a_prob, v_prob, _ = model_outputs                                           # train.py:54
    a_prob.clamp_(min=1e-7, max=1 - 1e-7)                                       # train.py:65
    v_prob.clamp_(min=1e-7, max=1 - 1e-7)                                       # train.py:66

    stage1_loss = criterion(a_prob, target_a) + criterion(v_prob, target_v)     # train.py:75
    return stage1_loss
