"""The dropout tape (models/noise.py): each site reads its own slice of the noise, keeps an element
where its number is >= p and scales it by 1/(1-p), whatever rates the sites interleave."""
import pytest
import torch

from vplan_core.models.noise import DropoutTape


def test_sites_read_their_slices_at_their_rates():
    noise = torch.rand(2 * 12 + 3 + 5, generator=torch.Generator().manual_seed(0))
    x, y, z = torch.randn(2, 12), torch.randn(3, 4), torch.randn(5)
    tape = DropoutTape(noise, 0.2)
    got = tape(x), tape.drop_path(y, 0.5), tape(z, 0.1)
    tape.check_used()
    u = noise.split([24, 3, 5])
    expected = (x * (u[0].view(2, 12) >= 0.2) / 0.8, y * (u[1] >= 0.5)[:, None] / 0.5, z * (u[2] >= 0.1) / 0.9)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError):
        DropoutTape(noise, 0.2).check_used()


def test_a_site_multiplies_once_forward_and_backward():
    """One mask per rate per forward: a site is one multiply, and its gradient is the mask."""
    noise = torch.rand(40, generator=torch.Generator().manual_seed(1))
    x = torch.randn(4, 10, requires_grad=True)
    tape = DropoutTape(noise, 0.3)
    tape(x).sum().backward()
    torch.testing.assert_close(x.grad, ((noise >= 0.3) / 0.7).view(4, 10))
    assert list(tape.scaled_masks) == [0.3]
