"""The emulator's fixed values: the stable default ids, lifetimes, and where the control surface is.

The defaults are fake and obviously so; the package re-exports them for tests that need the ids.
"""

from __future__ import annotations

DEFAULT_CLIENT_ID = "1000000000001-emulator.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"  # noqa: S105 - a fake, public value
DEFAULT_PROJECT_ID = "emulator-project"
DEFAULT_PROJECT_NUMBER = 1000000000001
DEFAULT_USER = "tester@example.com"
DEFAULT_API_KEY = "emulator-api-key"
#: The metadata server's default account, named as Compute Engine's default service account.
DEFAULT_SERVICE_ACCOUNT = f"{DEFAULT_PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
APP_NAME = "Gemini OAuth Emulator"

ACCESS_TOKEN_LIFETIME = 3600
CODE_LIFETIME = 600
CONSENT_LIFETIME = 3600
TESTING_REFRESH_LIFETIME = 7 * 24 * 3600
#: Live refresh tokens per OAuth client per user; past it Google silently invalidates the oldest.
REFRESH_TOKEN_LIMIT = 100

#: Every control route is under this path; faults never apply to it.
CONTROL_PREFIX = "/__emulator__"
#: A header every control request other than GET may carry instead of a JSON content type:
#: a web page's cross-site form or simple request can send neither.
CONTROL_HEADER = "X-Emulator-Control"
#: The Gemini API's service name, as Google's errors name it.
GEMINI_SERVICE = "generativelanguage.googleapis.com"
