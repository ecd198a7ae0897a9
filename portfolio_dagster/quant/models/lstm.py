"""Long short-term memory network over each ticker's trailing feature rows: a sequence family
(sequence.py), the recurrent counterpart of the TCN under the same interface."""

from __future__ import annotations

import torch
from torch import nn

from portfolio_dagster.quant.models.sequence import SequenceForecaster, SequenceNet


class LSTMNet(SequenceNet):
    """The LSTM network: stacked LSTM layers over a ticker's trailing rows, a linear head on the last step."""

    def __init__(
        self, n_features: int, hidden: int, layers: int, dropout: float, learning_rate: float
    ) -> None:
        super().__init__(learning_rate)
        self.lstm = nn.LSTM(
            n_features, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: batch x features x time
        out, _ = self.lstm(x.transpose(1, 2))
        return self.head(out[:, -1, :]).squeeze(-1)


class LSTMForecaster(SequenceForecaster):
    """The LSTM family: a SequenceForecaster on LSTMNet."""

    family = "lstm"

    def _new_net(self) -> LSTMNet:
        return LSTMNet(
            len(self.feature_names),
            int(self.params.get("hidden", 16)),
            int(self.params.get("layers", 1)),
            float(self.params.get("dropout", 0.0)),
            float(self.params.get("learning_rate", 1e-3)),
        )
