"""A mixin for the App and the screens that show records: an error the user can act on never stops
their message loop. It lives below the screens so that they need not import the app shell."""

from __future__ import annotations


class KeepsRunning:
    """For the App and the screens and widgets that show records. Textual stops the message loop of
    a widget whose handler raised (the app quit, or a screen froze, without a word): an error the
    user can act on (a refused value, a busy, full or read-only database, a record or object that
    another program deleted, merged or restored away) becomes one line, and the loop runs on."""

    async def _dispatch_message(self, message) -> None:
        try:
            await super()._dispatch_message(message)
        except Exception as error:
            if not self.app.absorb_user_error(error):
                raise
