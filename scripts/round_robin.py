"""A REST client behind a round-robin load balancer, as the app's clients reach several servers.

Each message goes to the next server; a message whose server fails or cannot be reached is sent
again, with the same message_id, to the one after. Used by `make bench` and the fault tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.channels.rest_tokens import TOKEN_HEADER


async def rest_turn(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    first: int,
    body: dict[str, object],
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]] | None:
    """The replies to one message, resent to the next server when one fails or cannot be reached.

    Safe because the resent message has the same message_id: it is answered, never processed, twice.
    The conversation token the first reply carries goes into ``headers`` for the next turns, as a
    client keeps it.
    """
    headers = {} if headers is None else headers
    for attempt in range(len(urls) * 2):
        url = urls[(first + attempt) % len(urls)]
        try:
            async with session.post(url, json=body, headers=headers) as response:
                if response.status == 200:
                    if TOKEN_HEADER in response.headers:
                        headers[TOKEN_HEADER] = response.headers[TOKEN_HEADER]
                    return list(await response.json())
                if response.status < 500:
                    return None
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.2)
    return None
