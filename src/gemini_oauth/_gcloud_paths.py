"""Where gcloud keeps its configuration, and so where the ADC file lives (gcloud's
``_GetGlobalConfigDir``, google-auth's ``_cloud_sdk``). Apart from ``_paths`` because the
print-access-token fast path imports that one and must not pay for pathlib.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import sys
from collections.abc import Mapping
from pathlib import Path

from gemini_oauth._constants import CLOUDSDK_CONFIG_ENV

#: The ADC file's name in gcloud's config folder.
ADC_FILENAME = "application_default_credentials.json"


def config_dir(platform: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """gcloud's config dir: $CLOUDSDK_CONFIG, ~/.config/gcloud, or %APPDATA%\\gcloud on Windows."""
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    if env.get(CLOUDSDK_CONFIG_ENV):
        return Path(env[CLOUDSDK_CONFIG_ENV])
    if not platform.startswith("win"):
        home = env.get("HOME") or str(Path.home())
        return Path(posixpath.join(home, ".config", "gcloud"))
    if env.get("APPDATA"):
        return Path(ntpath.join(env["APPDATA"], "gcloud"))
    return Path(ntpath.join(env.get("SystemDrive", "C:"), "\\", "gcloud"))


def adc_path(platform: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Where gcloud writes, and google-auth looks for, the ADC file."""
    dir_ = config_dir(platform, env)
    join = ntpath.join if (platform or sys.platform).startswith("win") else posixpath.join
    return Path(join(str(dir_), ADC_FILENAME))


__all__ = ["ADC_FILENAME", "adc_path", "config_dir"]
