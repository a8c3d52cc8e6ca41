"""Names and numbers used in more than one room: environment variables, Google's endpoints,
token lifetimes, and the one loopback-host predicate. Standard library only (the fast path
imports it); the emulator keeps its own, as it imports nothing client-side.
"""

from __future__ import annotations

# -- environment variables we read (README.md has the table) ----------------------------------
#: Cache home (profiles, ADC access-token cache).
HOME_ENV = "GEMINI_OAUTH_HOME"
#: Desktop OAuth client file.
CLIENT_SECRET_ENV = "GEMINI_OAUTH_CLIENT_SECRET"  # noqa: S105
#: Profile used when no --profile is given.
PROFILE_ENV = "GEMINI_OAUTH_PROFILE"
#: 1/true/yes/on: as --verbose.
DEBUG_ENV = "GEMINI_OAUTH_DEBUG"
#: Project billed for API calls (x-goog-user-project); google-auth reads it too.
QUOTA_PROJECT_ENV = "GOOGLE_CLOUD_QUOTA_PROJECT"
#: Gemini API base URL, as google-genai reads it.
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
#: A credentials file that wins over the gcloud ADC file (google-auth's rule).
CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
#: gcloud's configuration folder, where the ADC file lives.
CLOUDSDK_CONFIG_ENV = "CLOUDSDK_CONFIG"
#: gcloud's property auth/token_host as an environment variable: a full token URI.
TOKEN_HOST_ENV = "CLOUDSDK_AUTH_TOKEN_HOST"  # noqa: S105
#: gcloud's property api_endpoint_overrides/cloudresourcemanager: where quota projects are checked.
RESOURCE_MANAGER_ENV = "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER"
#: ADC credential types allowed besides the defaults, comma-separated (e.g. external_account).
ADC_TYPES_ENV = "GEMINI_OAUTH_ALLOW_ADC_TYPES"
#: Project ids google-auth reads for ADC.
PROJECT_ENVS = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
#: Where profiles are cached: a redis:// or rediss:// URL (else the file store under the home).
CACHE_URL_ENV = "GEMINI_OAUTH_CACHE_URL"
#: API keys that make Google's SDKs use a key instead of OAuth.
API_KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")

# -- Google's endpoints ----------------------------------------------------------------------
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
UNIVERSE_DOMAIN = "googleapis.com"

# -- times -----------------------------------------------------------------------------------
#: Refresh an access token when fewer than this many seconds remain.
REFRESH_MARGIN = 300.0
#: The longest access-token lifetime believed (Google's are one hour); longer answers are cut.
MAX_TOKEN_LIFETIME = 86400
#: Refresh tokens of an app in Testing status last this long (Google's rule).
TESTING_REFRESH_LIFETIME = 7 * 86400

# -- sizes -----------------------------------------------------------------------------------
#: A token cache, ADC or client file is never larger: bigger ones are refused unread.
MAX_JSON_FILE = 1 << 20

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.1, ::1 (bracketed or not) or localhost, in any letter case."""
    return (host or "").lower() in _LOOPBACK_HOSTS
