"""HAN against a faithful copy of the reference MMIL_Net (YapengTian/AVVP-ECCV20)."""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from vplan_core.models.han import HAN


# ---- oracle: nets/net_audiovisual.py of AVVP-ECCV20, sequence-first as in the original ----
def _get_clones(module, n):
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


class RefEncoder(nn.Module):
    def __init__(self, encoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm1 = nn.LayerNorm(512)
        self.norm2 = nn.LayerNorm(512)
        self.norm = norm

    def forward(self, src_a, src_v):
        output_a, output_v = src_a, src_v
        for i in range(self.num_layers):
            output_a = self.layers[i](src_a, src_v)
            output_v = self.layers[i](src_v, src_a)
        if self.norm:
            output_a = self.norm1(output_a)
            output_v = self.norm2(output_v)
        return output_a, output_v


class RefHANLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=512, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.cm_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout11 = nn.Dropout(dropout)
        self.dropout12 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.ReLU()

    def forward(self, src_q, src_v):
        src_q = src_q.permute(1, 0, 2)
        src_v = src_v.permute(1, 0, 2)
        src1 = self.cm_attn(src_q, src_v, src_v)[0]
        src2 = self.self_attn(src_q, src_q, src_q)[0]
        src_q = src_q + self.dropout11(src1) + self.dropout12(src2)
        src_q = self.norm1(src_q)
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src_q))))
        src_q = src_q + self.dropout2(src2)
        src_q = self.norm2(src_q)
        return src_q.permute(1, 0, 2)


class RefCMTLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=512, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.ReLU()


class RefMMILNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc_prob = nn.Linear(512, 25)
        self.fc_frame_att = nn.Linear(512, 25)
        self.fc_av_att = nn.Linear(512, 25)
        self.fc_a = nn.Linear(128, 512)
        self.fc_v = nn.Linear(2048, 512)
        self.fc_st = nn.Linear(512, 512)
        self.fc_fusion = nn.Linear(1024, 512)
        self.audio_encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model=512, nhead=1, dim_feedforward=512), num_layers=1,
            enable_nested_tensor=False)
        self.visual_encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model=512, nhead=1, dim_feedforward=512), num_layers=1,
            enable_nested_tensor=False)
        self.cmt_encoder = RefEncoder(RefCMTLayer(d_model=512, nhead=1, dim_feedforward=512), 1)
        self.hat_encoder = RefEncoder(RefHANLayer(d_model=512, nhead=1, dim_feedforward=512), 1)

    def forward(self, audio, visual, visual_st):
        x1 = self.fc_a(audio)
        vid_s = self.fc_v(visual).permute(0, 2, 1).unsqueeze(-1)
        vid_s = F.avg_pool2d(vid_s, (8, 1)).squeeze(-1).permute(0, 2, 1)
        vid_st = self.fc_st(visual_st)
        x2 = torch.cat((vid_s, vid_st), dim=-1)
        x2 = self.fc_fusion(x2)
        x1, x2 = self.hat_encoder(x1, x2)
        x = torch.cat([x1.unsqueeze(-2), x2.unsqueeze(-2)], dim=-2)
        frame_prob = torch.sigmoid(self.fc_prob(x))
        frame_att = torch.softmax(self.fc_frame_att(x), dim=1)
        av_att = torch.softmax(self.fc_av_att(x), dim=2)
        temporal_prob = frame_att * frame_prob
        global_prob = (temporal_prob * av_att).sum(dim=2).sum(dim=1)
        a_prob = temporal_prob[:, :, 0, :].sum(dim=1)
        v_prob = temporal_prob[:, :, 1, :].sum(dim=1)
        return global_prob, a_prob, v_prob, frame_prob
# ---- end of oracle ----


def test_reference_state_dict_loads_and_outputs_match():
    torch.manual_seed(0)
    ref = RefMMILNet().eval()
    model = HAN().eval()
    result = model.load_state_dict(ref.state_dict(), strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys
    assert all(k.split(".")[0] in {"audio_encoder", "visual_encoder", "cmt_encoder"}
               for k in result.unexpected_keys)

    audio, v2d, v3d = torch.randn(3, 10, 128), torch.randn(3, 80, 2048), torch.randn(3, 10, 512)
    with torch.no_grad():
        expected = ref(audio, v2d, v3d)
        got = model(audio, v2d, v3d)
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, atol=1e-6, rtol=0)


def test_shapes_and_ranges_small_dims():
    torch.manual_seed(0)
    model = HAN(audio_dim=16, visual_2d_dim=32, visual_3d_dim=8, d_model=24, dim_feedforward=24)
    out = model(torch.randn(5, 10, 16), torch.randn(5, 80, 32), torch.randn(5, 10, 8))
    assert [tuple(o.shape) for o in out] == [(5, 25), (5, 25), (5, 25), (5, 10, 2, 25)]
    for o in out:
        assert torch.all((o >= 0) & (o <= 1))
    # Encoder norms exist (for key compatibility) but play no part in the forward pass.
    assert model.hat_encoder.norm1.weight.grad is None
    sum(o.sum() for o in out).backward()
    assert model.hat_encoder.norm1.weight.grad is None
    assert model.fc_v.weight.grad is not None
