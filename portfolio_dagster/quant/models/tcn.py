"""Temporal convolutional network (causal dilated 1-D convolutions): a sequence family (sequence.py)."""

from __future__ import annotations

import torch
from torch import nn

from portfolio_dagster.quant.models.sequence import SequenceForecaster, SequenceNet

KERNEL = 3


class _CausalBlock(nn.Module):
    def __init__(self, cin: int, cout: int, dilation: int) -> None:
        super().__init__()
        self.pad = (KERNEL - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, KERNEL, dilation=dilation)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.conv(nn.functional.pad(x, (self.pad, 0))))
        return out + self.skip(x)


class TCNNet(SequenceNet):
    """The temporal convolutional network: dilated causal blocks, a linear head on the last step."""

    def __init__(self, n_features: int, channels: int, levels: int, learning_rate: float) -> None:
        super().__init__(learning_rate)
        blocks, cin = [], n_features
        for i in range(levels):
            blocks.append(_CausalBlock(cin, channels, 2**i))
            cin = channels
        self.net = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: batch x features x time
        return self.head(self.net(x)[:, :, -1]).squeeze(-1)


class TCNForecaster(SequenceForecaster):
    """The TCN family: a SequenceForecaster on TCNNet."""

    family = "tcn"

    def _new_net(self) -> TCNNet:
        return TCNNet(
            len(self.feature_names),
            int(self.params.get("channels", 8)),
            int(self.params.get("levels", 5)),
            float(self.params.get("learning_rate", 1e-3)),
        )
