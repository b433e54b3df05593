"""Keyset pagination shared by every list endpoint.

A page token is the opaque, URL-safe encoding of the sort key of the last item returned; the next query
asks for rows strictly after it. Pages stay fast however deep the client reads (no OFFSET), and rows
inserted meanwhile are neither skipped nor repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from modelplane.api.errors import InvalidRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100


class Page(BaseModel, Generic[T]):
    """One page of a list and the token of the next one (absent on the last page)."""

    items: list[T] = Field(description="The items of this page.")
    next_page_token: str | None = Field(None, description="Pass as page_token to read the next page.")


class PageParams(BaseModel):
    """Query parameters of a list endpoint."""

    page_size: int
    page_token: str | None


def page_params(
    page_size: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str | None, Query(max_length=2048, description="Token from the previous page.")] = None,
) -> PageParams:
    """FastAPI dependency reading ``page_size`` and ``page_token``."""
    return PageParams(page_size=page_size, page_token=page_token)


def encode_token(key: Sequence[Any]) -> str:
    """The token standing for a sort key."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, length: int) -> list[Any]:
    """The sort key in a token; 400 for a token this endpoint did not issue."""
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidRequest("page_token is not a token issued by this endpoint") from error
    if not isinstance(key, list) or len(key) != length:
        raise InvalidRequest("page_token is not a token issued by this endpoint")
    return key


def decode_int_token(token: str, length: int, positions: Sequence[int] | None = None) -> list[Any]:
    """Like :func:`decode_token`, with the items at ``positions`` (all by default) checked to be integers."""
    key = decode_token(token, length)
    for index in positions if positions is not None else range(length):
        if not isinstance(key[index], int) or isinstance(key[index], bool):
            raise InvalidRequest("page_token is not a token issued by this endpoint")
    return key


def decode_id_token(token: str) -> int:
    """The one non-negative integer (an id or a version number) in a single-key page token."""
    [value] = decode_token(token, 1)
    if type(value) is not int or not 0 <= value < 2**63:
        raise InvalidRequest("page_token is not a token issued by this endpoint")
    return value


def decode_name_token(token: str) -> str:
    """The one string (a name) in a single-key page token."""
    [value] = decode_token(token, 1)
    if type(value) is not str:
        raise InvalidRequest("page_token is not a token issued by this endpoint")
    return value
