"""The `graph` section of the configuration: a metric graph image in every CloudWatch trigger."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# CloudWatch keeps 1-hour data points for 455 days (15 months): a token never needs to outlive that.
MAX_TOKEN_LIFETIME_DAYS = 455


class GraphConfig(BaseModel):
    """`images` on triggers: the alarm's metric around the transition, rendered when first viewed.

    `base_url` is the public HTTPS base the image URLs point at (`<base_url>/graph/<token>`). The stack
    passes the webhook function's URL as `ALERTBRIDGE_GRAPH_BASE_URL`; a value here (a custom domain in
    front of it) wins. Without either, no image is attached."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    base_url: str | None = None
    token_lifetime_days: int = Field(default=90, ge=1, le=MAX_TOKEN_LIFETIME_DAYS)
    minutes_before: int = Field(default=180, ge=5, le=24 * 60)
    minutes_after: int = Field(default=30, ge=0, le=24 * 60)

    @field_validator("base_url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith("https://"):
            raise ValueError("graph.base_url must be https: PagerDuty loads images[].src only over HTTPS")
        return url.rstrip("/")
