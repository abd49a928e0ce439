"""GeWu-Lab/LFAV src/dataloader.py (commit e17ad4d), class ToEqualLengthSample, verbatim apart
from the sample dict: its two static methods, as the training transform applies them to each of
audio, video_s and video_st ([T, D] tensors)."""
import torch.nn.functional as F


class ToEqualLengthSample(object):

    def __init__(self, length=200):

        self.length = length

    def __call__(self, x):
        seq_len = x.size(0)
        if seq_len >= self.length:
            return self.downsample(x, self.length)
        return self.upsample(x, self.length)

    @staticmethod
    def downsample(x, length):
        stride = x.size(0) // length
        sampled_x = x[::stride, :]
        sampled_x = sampled_x[:length, :]
        return sampled_x

    @staticmethod
    def upsample(x, length):
        x = x.unsqueeze(0).permute(0, 2, 1).contiguous()
        sampled_x = F.interpolate(x, length, mode='linear')
        sampled_x = sampled_x.permute(0, 2, 1).contiguous().squeeze()
        return sampled_x
