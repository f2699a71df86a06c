"""Token checks reuse a verified token and re-read its revocation at most every 0.5 s."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from gateway.hotstate import HotState, Key
from gateway.oauth.tokens import REVOCATION_RECHECK_SECONDS, InvalidToken
from tests.gateway.conftest import AccessToken, IssueCredentials


class _CountingReads:
    """The hot-state port, counting reads (a fake at the seam, delegating to the real one)."""

    def __init__(self, inner: HotState) -> None:
        self.inner = inner
        self.reads = 0

    async def get(self, key: Key) -> bytes | None:
        self.reads += 1
        return await self.inner.get(key)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class TestVerifiedTokenCache:
    async def test_repeated_checks_decode_once_and_read_revocation_per_window(
        self,
        app: FastAPI,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        tokens = app.state.container.tokens
        token = await access_token(await issue_credentials(app, "meilife"))
        counting = _CountingReads(tokens._hot_state)
        monkeypatch.setattr(tokens, "_hot_state", counting)
        decodes = 0
        real_decode = tokens.decode

        async def counted_decode(value: str) -> object:
            nonlocal decodes
            decodes += 1
            return await real_decode(value)

        monkeypatch.setattr(tokens, "decode", counted_decode)
        for _ in range(20):
            await tokens.verify(token)
        assert decodes == 1 and counting.reads == 1
        await asyncio.sleep(REVOCATION_RECHECK_SECONDS)
        await tokens.verify(token)
        assert decodes == 1 and counting.reads == 2

    async def test_a_revocation_by_another_process_is_seen_after_the_window(
        self, app: FastAPI, issue_credentials: IssueCredentials, access_token: AccessToken
    ) -> None:
        tokens = app.state.container.tokens
        token = await access_token(await issue_credentials(app, "meilife"))
        access = await tokens.verify(token)
        # Written straight into the shared hot state, as another process's revoke does.
        await app.state.container.hot_state.set(
            app.state.container.keys.revoked_token(access.jti, 60), b"1"
        )
        await asyncio.sleep(REVOCATION_RECHECK_SECONDS)
        with pytest.raises(InvalidToken, match="revoked"):
            await tokens.verify(token)
