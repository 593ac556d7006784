"""Every Paperboy setting, declared once with its default and a one-line meaning.

Settings come from the environment (prefix ``PAPERBOY_``) or a ``.env`` file in the working
directory; the secrets can also be read from files (``PAPERBOY_SECRET_KEY_FILE`` and the like, as
Docker secrets are mounted). This package is the only place that reads the environment; the
README's settings table is checked against it by a test.

A core module: it imports only ``service.errors`` and ``service.timezones`` of ours. Each concern
is a section class in its own module (``instance``, ``database``, ``mail``, ``web``,
``delivery``, ``ranking``, ``sources``, ``secret_files``); ``core.Settings`` inherits them all
with the one ``model_config``. Import from here: ``from service.settings import Settings``.
"""

from service.settings.core import Settings, get_settings, load_settings
from service.settings.instance import PLACEHOLDER_SECRET
from service.settings.secret_files import SECRET_SETTINGS
from service.settings.sources import KNOWN_SOURCES
from service.settings.web import listen_url, misses_listener

__all__ = [
    "KNOWN_SOURCES",
    "PLACEHOLDER_SECRET",
    "SECRET_SETTINGS",
    "Settings",
    "get_settings",
    "listen_url",
    "load_settings",
    "misses_listener",
]
