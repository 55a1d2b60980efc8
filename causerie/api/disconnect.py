"""Work for a client that has left is cancelled, for every request and not only for streams.

Starlette stops a streaming response when its client disconnects; a plain request (a non-streamed
chat completion, ``/v1/code/fix``) would otherwise run to its end for nobody, holding an engine slot.
This middleware runs the app in its own task and is the only reader of the server's ``receive``:
it hands the app its messages one at a time (back-pressure kept), and on ``http.disconnect``
before the response is complete it cancels the app's task. Cancellation unwinds through the
services into the engine, whose scheduler frees the slot (``SlotScheduler.run``), and the sandbox,
which kills its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class CancelOnDisconnect:
    """ASGI middleware: cancel a request's work when its client disconnects before the answer is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        answered = False
        client_left = False

        async def tracked_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True  # before sending: the server may report the end as a disconnect at once
            await send(message)

        async def run_app() -> None:
            await self.app(scope, inbox.get, tracked_send)

        app_task = asyncio.create_task(run_app())

        async def pump() -> None:
            nonlocal client_left
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not answered:  # after the answer, a disconnect is the normal end
                        client_left = True
                        app_task.cancel()
                    while True:  # every later receive() of the app learns it too
                        await inbox.put(message)
                await inbox.put(message)

        pumping = asyncio.create_task(pump())
        try:
            await app_task
        except asyncio.CancelledError:
            if not client_left:
                raise
            log.debug("client left %s %s: its work was cancelled", scope["method"], scope["path"])
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
