"""Every message staff read is marked for translation here first (SPEC §14).

`_("text")` marks a message in Python; the workspace's templates use the same
function through Jinja2's i18n extension. Until the Dutch and English
catalogues exist (the i18n issue), the text is shown as written.
"""

from __future__ import annotations

import gettext

_translations: gettext.NullTranslations = gettext.NullTranslations()


def _(message: str) -> str:
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)


def translations() -> gettext.NullTranslations:
    return _translations
