"""Shared base of request bodies: unknown fields rejected, and text the database can store.

PostgreSQL cannot store NUL characters in text, and no database can store a lone UTF-16 surrogate (JSON
allows ``"\\ud800"``): both are rejected with a 422 naming the field instead of failing in the driver.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def _check_text(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain NUL (\\u0000) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from error
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item)
    return value


class RequestBody(BaseModel):
    """Base of every request body of the control plane."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _check_text(value)
