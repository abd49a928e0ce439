"""Reference: the official MM-Pyramid AVVP network, transcribed for the equivalence tests.

Repository: https://github.com/JustinYuu/MM_Pyramid
Commit:     1c641a5f3302345a40adbc721b555d17e773f560 (HEAD, 2022-08-26, "Update README.md")
Files:      nets/Transformer.py, nets/MPAM.py, main_network.py (in that order below)

Verbatim except for these marked changes (# CHANGED), none of which alters the computation:
  * imports: the three files are one module here (`from nets.Transformer import *` and the
    `MMP` import alias resolved locally); `import pdb` and the unused weight_norm import dropped.
  * attention(): the mask is built with `device=scores.device` instead of `.cuda()` (CPU tests).
  * AVVPNet.__init__ takes optional audio_dim / visual_2d_dim / visual_3d_dim / num_classes whose
    defaults are the literals of the original (128, 2048, 512, 25), and the original's literal
    512 of the fc layers is hidden_size (equal in the official run, where --hid_dim is 512), so
    that the tests can also run the reference at small dims. Module construction order (and so
    the random initialisation consumed) is unchanged.
Run it in eval mode only (the tests give it dropout from the noise tape when they need it).
"""
import copy
import math

import numpy as np  # noqa: F401  (imported by main_network.py)
import torch
import torch.nn as nn
import torch.nn.functional as F


# ============================== nets/Transformer.py ==============================
class HybridAttentionBlock(nn.Module):
    def __init__(self, attention_layer):
        super(HybridAttentionBlock, self).__init__()
        self.layer = attention_layer
        self.size = attention_layer.size

    def forward(self, video, audio):
        video_sa = self.layer(video, video, video)
        audio_sa = self.layer(audio, audio, audio)
        video_cma = self.layer(video_sa, audio_sa, audio_sa)
        audio_cma = self.layer(audio_sa, video_sa, video_sa)
        return video_cma, audio_cma


class SelfAttentionBlock(nn.Module):
    def __init__(self, attention_layer):
        super(SelfAttentionBlock, self).__init__()
        self.layer = attention_layer
        self.size = attention_layer.size

    def forward(self, feature):
        feature_sa = self.layer(feature, feature, feature)
        return feature_sa


class CrossAttentionBlock(nn.Module):
    def __init__(self, attention_layer):
        super(CrossAttentionBlock, self).__init__()
        self.layer = attention_layer
        self.size = attention_layer.size

    def forward(self, video, audio):
        video_cma = self.layer(video, audio, audio)
        audio_cma = self.layer(audio, video, video)
        return video_cma, audio_cma


class IntegrateAttentionBlock(nn.Module):
    def __init__(self, vselfattention_layer, aselfattention_layer, crossattention_layer, num_inputs):
        super(IntegrateAttentionBlock, self).__init__()
        self.vsablock = SelfAttentionBlock(vselfattention_layer)
        self.asablock = SelfAttentionBlock(aselfattention_layer)
        self.cmablock = CrossAttentionBlock(crossattention_layer)
        self.lv1 = nn.Linear(num_inputs*2, num_inputs)
        self.lv2 = nn.Linear(num_inputs*2, num_inputs)
        self.la1 = nn.Linear(num_inputs*2, num_inputs)
        self.la2 = nn.Linear(num_inputs*2, num_inputs)

    def forward(self, video, audio):
        v_sa = self.vsablock(video)
        a_sa = self.asablock(audio)
        v_cma, a_cma = self.cmablock(video, audio)
        v_sq = torch.cat((v_sa, v_cma), -1)
        v_e1 = torch.sigmoid(self.lv1(v_sq))
        v_e2 = torch.sigmoid(self.lv2(v_sq))
        v_out = torch.mul(v_e1, v_sa) + torch.mul(v_e2, v_cma)
        a_sq = torch.cat((a_sa, a_cma), -1)
        a_e1 = torch.sigmoid(self.la1(a_sq))
        a_e2 = torch.sigmoid(self.la2(a_sq))
        a_out = torch.mul(a_e1, a_sa) + torch.mul(a_e2, a_cma)
        # v_out = self.lv(torch.cat((v_sa, v_cma), -1))
        # a_out = self.la(torch.cat((a_sa, a_cma), -1))
        return v_out, a_out


class TransformerLayer(nn.Module):
    def __init__(self, size, self_attn, feed_forward, dropout):
        super(TransformerLayer, self).__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.sublayer = clones(SublayerConnection(size, dropout), 2)
        self.size = size

    def forward(self, q, k, v):
        q = self.sublayer[0](q, lambda q: self.self_attn(q, k, v)[0])
        return self.sublayer[1](q, self.feed_forward)


class SublayerConnection(nn.Module):
    def __init__(self, size, dropout):
        super(SublayerConnection, self).__init__()
        self.norm = nn.LayerNorm(size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, sublayer):
        return x + self.dropout(sublayer(self.norm(x)))


def attention(query, key, value, masksize, dropout=None):
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
    if masksize != 1:
        masksize = int(masksize / 2)
        mask = torch.ones(scores.size(), device=scores.device)  # CHANGED: was torch.ones(scores.size()).cuda()
        for i in range(mask.shape[2]):
            if i - masksize > 0:
                mask[:, :, i, :i - masksize] = 0
            if i + masksize + 1 < mask.shape[3]:
                mask[:, :, i, masksize + i + 1:] = 0
        # print(mask[0][0])
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = F.softmax(scores, dim=-1)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return torch.matmul(p_attn, value), p_attn


def clones(module, N):
    return nn.ModuleList([copy.deepcopy(module) for _ in range(N)])


class MultiHeadAttention(nn.Module):
    def __init__(self, h, d_model, masksize=1, dropout=0.1):
        super(MultiHeadAttention, self).__init__()
        assert d_model % h == 0
        self.d_k = d_model // h
        self.h = h
        self.linears = clones(nn.Linear(d_model, d_model), 4)
        self.attn = None
        self.masksize = masksize
        self.layer_norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, query, key, value):
        nbatches = query.size(0)

        # 1) Do all the linear projections in batch from d_model => h x d_k
        query, key, value = [l(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2) for l, x in
                             zip(self.linears, (query, key, value))]
        # 2) Apply attention on all the projected vectors in batch.
        x, self.attn = attention(query, key, value, self.masksize, dropout=self.dropout)
        # 3) "Concat" using a view and apply a final linear.
        x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        out = self.linears[-1](x)
        return out, self.attn


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout=0.1):
        super(PositionwiseFeedForward, self).__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        output = self.w_2(self.dropout(F.relu(self.w_1(x))))
        return output


# ================================= nets/MPAM.py =================================
class TemporalBlock(nn.Module):
    def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation):
        super(TemporalBlock, self).__init__()
        self.conv1 = nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, padding=dilation, dilation=dilation)
        self.relu1 = nn.ReLU()

        self.conv2 = nn.Conv1d(n_outputs, n_outputs, 1)

        self.net = nn.Sequential(self.conv1, self.relu1, self.conv2)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class SemanticFusionModule(nn.Module):
    def __init__(self, num_inputs, ffn_dim, dropout=0.2, nhead=8):
        super(SemanticFusionModule, self).__init__()
        c = copy.deepcopy
        self.num_inputs = num_inputs
        self.multiheadattn = MultiHeadAttention(nhead, num_inputs)
        self.feedforward = PositionwiseFeedForward(num_inputs, ffn_dim, dropout=dropout)
        self.vadaptiveinteraction = TransformerLayer(num_inputs, c(self.multiheadattn), c(self.feedforward), dropout)
        self.aadaptiveinteraction = TransformerLayer(num_inputs, c(self.multiheadattn), c(self.feedforward), dropout)
        self.vselectfusion = nn.Linear(num_inputs, 1)
        self.aselectfusion = nn.Linear(num_inputs, 1)

    def forward(self, v_stage, a_stage):
        v_interact = self.vadaptiveinteraction(v_stage, v_stage, v_stage)  # [nbatch*10, stage_num, 512]
        a_interact = self.aadaptiveinteraction(a_stage, a_stage, a_stage)  # [nbatch*10, stage_num, 512]
        v_weight = torch.sigmoid(self.vselectfusion(v_interact))
        a_weight = torch.sigmoid(self.aselectfusion(a_interact))
        v_interact = v_interact.permute(0, 2, 1).contiguous()
        a_interact = a_interact.permute(0, 2, 1).contiguous()
        v_out = torch.bmm(v_interact, v_weight).view(-1, 10, self.num_inputs)
        a_out = torch.bmm(a_interact, a_weight).view(-1, 10, self.num_inputs)
        # v_out = torch.mean(v_stage, dim=1, keepdim=False).view(-1, 10, self.num_inputs)
        # a_out = torch.mean(a_stage, dim=1, keepdim=False).view(-1, 10, self.num_inputs)
        return v_out, a_out


class SemanticCaptureModule(nn.Module):
    def __init__(self, num_inputs, ffn_dim, num_channels, kernel_size=3, dropout=0.2, nhead=8):
        super(SemanticCaptureModule, self).__init__()
        v_layers = []
        a_layers = []
        msa_layers = []
        num_levels = len(num_channels)
        c = copy.deepcopy
        self.multiheadattn = MultiHeadAttention(nhead, num_inputs)
        self.feedforward = PositionwiseFeedForward(num_inputs, ffn_dim, dropout=dropout)
        for i in range(num_levels):
            dilation_size = 2 ** i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            out_channels = num_channels[i]
            v_layers += [TemporalBlock(in_channels, out_channels, kernel_size, stride=1, dilation=dilation_size)]
            a_layers += [TemporalBlock(in_channels, out_channels, kernel_size, stride=1, dilation=dilation_size)]

            msa_layers += [IntegrateAttentionBlock(TransformerLayer(num_inputs,
                                                                    MultiHeadAttention(nhead, num_inputs,
                                                                                       masksize=dilation_size * 2),
                                                                    c(self.feedforward), dropout),
                                                   TransformerLayer(num_inputs,
                                                                    MultiHeadAttention(nhead, num_inputs,
                                                                                       masksize=dilation_size * 2),
                                                                    c(self.feedforward), dropout),
                                                   TransformerLayer(num_inputs,
                                                                    MultiHeadAttention(nhead, num_inputs,
                                                                                       masksize=dilation_size * 2),
                                                                    c(self.feedforward), dropout), num_inputs
                                                   )]
        self.vnetwork = nn.Sequential(*v_layers)
        self.anetwork = nn.Sequential(*a_layers)
        self.msa = nn.Sequential(*msa_layers)

    def forward(self, v, a):
        # v: [nbatch, 10, 512] a: [nbatch, 10, 512]
        v_stage_list = []
        a_stage_list = []
        v_stage = v
        a_stage = a
        for i in range(len(self.vnetwork)):
            v_msa, a_msa = self.msa[i](v_stage, a_stage)
            v_msa = v_msa.permute(0, 2, 1).contiguous()  # [nbatch, 512, 10]
            a_msa = a_msa.permute(0, 2, 1).contiguous()  # [nbatch, 512, 10]
            v_tcn = self.vnetwork[i](v_msa)
            a_tcn = self.anetwork[i](a_msa)
            v_stage = v_tcn.permute(0, 2, 1).contiguous()  # [nbatch, 10, 512]
            a_stage = a_tcn.permute(0, 2, 1).contiguous()  # [nbatch, 10, 512]
            v_stage_list.append(v_stage)
            a_stage_list.append(a_stage)
        v_stage = torch.stack(v_stage_list, dim=2)  # [nbatch, 10, stage_num, 512]
        a_stage = torch.stack(a_stage_list, dim=2)  # [nbatch, 10, stage_num, 512]]
        v_stage = v_stage.view(-1, v_stage.size(2), v_stage.size(3))
        a_stage = a_stage.view(-1, a_stage.size(2), a_stage.size(3))
        return v_stage, a_stage


class MultimodalPyramidAttentionalModule(nn.Module):
    def __init__(self, num_inputs, ffn_dim, num_channels, kernel_size=3, dropout=0.2, nhead=8):
        super(MultimodalPyramidAttentionalModule, self).__init__()
        self.capture = SemanticCaptureModule(num_inputs, ffn_dim, num_channels, kernel_size, dropout, nhead)
        self.fusion = SemanticFusionModule(num_inputs, ffn_dim, dropout, nhead)

    def forward(self, video, audio):
        v_cap, a_cap = self.capture(video, audio)
        v_out, a_out = self.fusion(v_cap, a_cap)
        return v_out, a_out


MMP = MultimodalPyramidAttentionalModule  # CHANGED: was `from nets.MPAM import ... as MMP`


# ================================ main_network.py ================================
class AVVPNet(nn.Module):
    # CHANGED: audio_dim, visual_2d_dim, visual_3d_dim, num_classes added (defaults: the literals
    # of the original); the original's literal 512 below is hidden_size.
    def __init__(self, head, hidden_size, ffn_dim, n_channels,
                 audio_dim=128, visual_2d_dim=2048, visual_3d_dim=512, num_classes=25):
        super(AVVPNet, self).__init__()

        self.fc_prob = nn.Linear(hidden_size, num_classes)
        self.fc_frame_att = nn.Linear(hidden_size, num_classes)
        self.fc_av_att = nn.Linear(hidden_size, num_classes)
        self.fc_a = nn.Linear(audio_dim, hidden_size)
        self.fc_v = nn.Linear(visual_2d_dim, hidden_size)
        self.fc_st = nn.Linear(visual_3d_dim, hidden_size)
        self.fc_fusion = nn.Linear(2 * hidden_size, hidden_size)
        self.MMP = MMP(hidden_size, ffn_dim, n_channels, nhead=head)

    def forward(self, audio, visual, visual_st):
        f_a = self.fc_a(audio)
        # 2d and 3d visual feature
        vid_s = self.fc_v(visual).permute(0, 2, 1).unsqueeze(-1)
        vid_s = F.avg_pool2d(vid_s, (8, 1)).squeeze(-1).permute(0, 2, 1)
        vid_st = self.fc_st(visual_st)
        f_v = torch.cat((vid_s, vid_st), dim=-1)
        f_v = self.fc_fusion(f_v)

        v_o, a_o = self.MMP(f_v, f_a)
        # x = x.view(x.size(0), x.size(1), 2, -1)
        # prediction
        x = torch.cat([v_o.unsqueeze(-2), a_o.unsqueeze(-2)], dim=-2)
        frame_prob = torch.sigmoid(self.fc_prob(x))

        # attentive MMIL pooling
        frame_att = torch.softmax(self.fc_frame_att(x), dim=1)
        av_att = torch.softmax(self.fc_av_att(x), dim=2)
        temporal_prob = (frame_att * frame_prob)
        global_prob = (temporal_prob * av_att).sum(dim=2).sum(dim=1)

        a_prob = temporal_prob[:, :, 0, :].sum(dim=1)
        v_prob = temporal_prob[:, :, 1, :].sum(dim=1)

        return global_prob, a_prob, v_prob, frame_prob
