"""API keys of the live providers, from the environment through Dagster's EnvVar (shown in the UI by
variable name, never by value; never put into logs, metadata or error messages)."""

from __future__ import annotations

import dagster as dg

KEY_ENV = {"alpha_vantage": "ALPHA_VANTAGE_API_KEY", "finnhub": "FINNHUB_API_KEY"}


class ProviderKeys(dg.ConfigurableResource):
    """Names of the environment variables holding the keys; read only when a live asset needs one."""

    alpha_vantage_env: str = KEY_ENV["alpha_vantage"]
    finnhub_env: str = KEY_ENV["finnhub"]

    def key(self, provider: str) -> str:
        env = {"alpha_vantage": self.alpha_vantage_env, "finnhub": self.finnhub_env}[provider]
        value = dg.EnvVar(env).get_value()
        if not value:
            raise dg.Failure(f"{provider}: no API key; set the environment variable {env}")
        return value
