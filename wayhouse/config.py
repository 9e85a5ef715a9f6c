"""Configuration from the environment (``WAYHOUSE_*``), with embedded defaults.

Without ``WAYHOUSE_DB_URL`` / ``WAYHOUSE_MQTT_URL`` Wayhouse uses the PostgreSQL and
Mosquitto it starts itself under ``WAYHOUSE_DATA_DIR`` (default ``<checkout>/var``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAYHOUSE_", extra="ignore")

    data_dir: Path = PROJECT_ROOT / "var"
    db_url: str | None = None
    mqtt_url: str | None = None
    pg_port: int = 55432
    mqtt_port: int = 51883
    api_host: str = "127.0.0.1"
    api_port: int = 58000
    ui_host: str = "127.0.0.1"
    ui_port: int = 58080
    ingest_batch_max: int = 2000
    ingest_flush_ms: int = 25
    ingest_worker_id: str = "w1"
    retention_days: int = 30
    # Dealer qualification documents: which types a dealer must hold (comma-separated), how
    # many days ahead a lapse is warned, and whether a lapsed or a missing one blocks orders.
    documents_required: str = "business_licence"
    documents_warning_days: int = 30
    documents_block_lapsed: bool = True
    documents_block_missing: bool = False
    # Time zone of the sites: delivery windows and plan days are local times.
    timezone: str = "Europe/Paris"
    # Map tiles for the console, e.g. a company tile server; empty: the offline base map only.
    map_tile_url: str = ""
    map_tile_attribution: str = ""

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def embedded_db(self) -> bool:
        return self.db_url is None

    @property
    def embedded_mqtt(self) -> bool:
        return self.mqtt_url is None

    def secret(self, name: str) -> str:
        """A generated secret kept under the data folder (created on first use, mode 600)."""
        path = self.secrets_dir / name
        if not path.exists():
            self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def database_url(self) -> str:
        """A psycopg conninfo URL (``postgresql://...``)."""
        if self.db_url:
            return self.db_url
        pw = quote(self.secret("db_password"), safe="")
        return f"postgresql://wayhouse:{pw}@127.0.0.1:{self.pg_port}/wayhouse"

    def sqlalchemy_url(self) -> str:
        url = self.database_url()
        scheme, rest = url.split("://", 1)
        return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url

    def mqtt(self, user: str | None = None, password: str | None = None) -> MqttTarget:
        """Where the broker is; credentials default to the platform's ingest user."""
        if self.mqtt_url:
            parts = urlsplit(self.mqtt_url)
            if parts.scheme not in ("mqtt", "mqtts"):
                raise ValueError(
                    f"WAYHOUSE_MQTT_URL must be mqtt:// or mqtts://, got {parts.scheme}"
                )
            return MqttTarget(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                username=user or (unquote(parts.username) if parts.username else INGEST_USER),
                password=password
                if user
                else (
                    unquote(parts.password) if parts.password else self.secret("ingest_password")
                ),
                tls=parts.scheme == "mqtts",
            )
        return MqttTarget(
            host="127.0.0.1",
            port=self.mqtt_port,
            username=user or INGEST_USER,
            password=password if user else self.secret("ingest_password"),
            tls=False,
        )

    def sim_password(self, agent_id: str) -> str:
        """Password of a simulator-provisioned agent: derived, so a simulator process can
        re-create its credentials without the registry handing out secrets."""
        key = self.secret("sim_secret").encode()
        return hmac.new(key, agent_id.encode(), hashlib.sha256).hexdigest()[:32]


INGEST_USER = "wayhouse-ingest"
PLATFORM_USER = "wayhouse-platform"


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    username: str
    password: str
    tls: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
