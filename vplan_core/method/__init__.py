"""The method of the paper: pseudo-label generation (plg, Eq. 3-4), the losses (losses, Eq. 2 and
5-9), pseudo-label denoising (pld, Eq. 10-11) and the ablation rows as configurations (ablation)."""
