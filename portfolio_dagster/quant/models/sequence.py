"""What the sequence families (TCN, LSTM) share: PyTorch Lightning training on CPU, deterministic.

Input: each row's trailing `lookback` rows of standardized features for the same ticker, taken from
the frame given (rows with less history are zero-padded at the start), so callers pass enough
context rows before the dates they want. Targets are scaled to unit variance for training and
predictions scaled back. Early stopping on the validation window's loss.
Artifact: the torch state_dict (.pt), loaded with torch.load(weights_only=True).
"""

from __future__ import annotations

import logging
import warnings
from abc import abstractmethod
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from portfolio_dagster.quant.models.base import PERMUTATION_ROWS, Forecaster, Standardizer, matrix, subsample

for _name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
    logging.getLogger(_name).setLevel(logging.ERROR)
# pytorch_lightning 2.6 against torch 2.13 warns about its own use of a deprecated torch API.
warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")

LOOKBACK = 60
PREDICT_BATCH = 8192


class SequenceNet(pl.LightningModule):
    """A regression head over a sequence encoder; subclasses define forward (x: batch x features x time)."""

    def __init__(self, learning_rate: float) -> None:
        super().__init__()
        self.learning_rate = learning_rate

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y), prog_bar=False)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate)


class SequenceForecaster(Forecaster):
    """Base of the torch sequence families (TCN, LSTM): standardized windows of each ticker's trailing
    rows, trained with PyTorch Lightning, stored as weights-only .pt."""

    native_suffix = ".pt"
    needs_sequences = True

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        super().__init__(params, seed, threads)
        self.scaler = Standardizer()
        self.y_scale = 1.0
        self.net: SequenceNet | None = None

    @property
    def lookback(self) -> int:
        return int(self.params.get("lookback", LOOKBACK))

    @abstractmethod
    def _new_net(self) -> SequenceNet: ...

    def _sequences(self, x: pd.DataFrame, only: np.ndarray | None = None) -> np.ndarray:
        """rows x features x lookback (float32), in x's row order; `only`: the windows of these sorted
        row positions alone (a training subsample need not materialize every row's window)."""
        z = self.scaler.transform(matrix(x, self.feature_names)).astype(np.float32)
        wanted = np.arange(len(x)) if only is None else np.asarray(only)
        out = np.zeros((len(wanted), len(self.feature_names), self.lookback), dtype=np.float32)
        tickers = x["ticker"].to_numpy()
        for t in pd.unique(tickers):
            rows = np.flatnonzero(tickers == t)  # date order within the ticker (x is date-sorted)
            picked = np.isin(rows, wanted)
            if not picked.any():
                continue
            padded = np.vstack([np.zeros((self.lookback - 1, z.shape[1]), np.float32), z[rows]])
            windows = np.lib.stride_tricks.sliding_window_view(padded, self.lookback, axis=0)
            out[np.searchsorted(wanted, rows[picked])] = windows[picked]
        return out

    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        torch.use_deterministic_algorithms(True)
        self.scaler.fit(matrix(x, self.feature_names))
        self.y_scale = float(np.std(y)) or 1.0
        idx = subsample(len(y), self.params.get("max_train_rows"), self.seed)
        seq = self._sequences(x, idx)
        train = TensorDataset(
            torch.from_numpy(seq), torch.from_numpy((y[idx] / self.y_scale).astype(np.float32))
        )
        loader = DataLoader(
            train,
            batch_size=int(self.params.get("batch_size", 256)),
            shuffle=True,
            generator=torch.Generator().manual_seed(self.seed),
        )
        self.net = self._new_net()
        callbacks, val_loader = [], None
        if len(y_val):
            vseq = torch.from_numpy(self._sequences(x_val))
            val_loader = DataLoader(
                TensorDataset(vseq, torch.from_numpy((y_val / self.y_scale).astype(np.float32))),
                batch_size=PREDICT_BATCH,
            )
            callbacks = [pl.callbacks.EarlyStopping("val_loss", patience=int(self.params.get("patience", 1)))]
        trainer = pl.Trainer(
            max_epochs=int(self.params.get("epochs", 2)),
            accelerator="cpu",
            devices=1,
            deterministic=True,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=callbacks,
            num_sanity_val_steps=0,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")
            trainer.fit(self.net, loader, val_loader)
        self.net.eval()

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self._predict_sequences(self._sequences(x))

    def _predict_sequences(self, seq: np.ndarray) -> np.ndarray:
        torch.set_num_threads(self.threads)
        seq = torch.from_numpy(seq)
        with torch.no_grad():
            parts = [self.net(seq[i : i + PREDICT_BATCH]).numpy() for i in range(0, len(seq), PREDICT_BATCH)]
        return (np.concatenate(parts) if parts else np.zeros(0)).astype(float) * self.y_scale

    def permutation_importance(self, x_val: pd.DataFrame, y_val: np.ndarray) -> np.ndarray:
        """Increase of the validation MSE when one feature's whole input window is swapped between rows
        (seeded): the windows are built once, not once per feature (143 features x the window)."""
        y_val = np.asarray(y_val, dtype=float)
        if not len(y_val):
            return np.full(len(self.feature_names), np.nan)
        # Windows need the whole window's rows as context; then a deterministic subsample of them.
        idx = subsample(len(y_val), PERMUTATION_ROWS, self.seed)
        seq, dates, y_val = self._sequences(x_val, idx), x_val["date"].to_numpy()[idx], y_val[idx]
        base = float(np.mean((y_val - self.to_return(self._predict_sequences(seq), dates)) ** 2))
        rng = np.random.default_rng(self.seed)
        out = []
        for k in range(len(self.feature_names)):
            original = seq[:, k, :].copy()
            seq[:, k, :] = original[rng.permutation(len(seq))]
            out.append(
                float(np.mean((y_val - self.to_return(self._predict_sequences(seq), dates)) ** 2)) - base
            )
            seq[:, k, :] = original
        return np.asarray(out)

    def _state(self) -> dict:
        return {"scaler": self.scaler.state(), "y_scale": self.y_scale}

    def _set_state(self, state: dict) -> None:
        self.scaler = Standardizer.from_state(state["scaler"])
        self.y_scale = float(state["y_scale"])

    def _save_native(self, path: Path) -> None:
        torch.save(self.net.state_dict(), path)

    def _load_native(self, path: Path) -> None:
        net = self._new_net()
        net.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
        net.eval()
        self.net = net
