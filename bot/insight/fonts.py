"""The CJK font the report's charts draw their Chinese labels with (Debian's fonts-noto-cjk)."""

from __future__ import annotations

import logging
from pathlib import Path

from matplotlib import font_manager

logger = logging.getLogger(__name__)

NOTO_SANS_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
INSTALL_HINT = (
    "run scripts/ensure-system-packages.sh (as root: apt-get install -y -qq fonts-noto-cjk)"
)


class MissingCjkFont(RuntimeError):
    """The font file is not there; the message says how to install it."""


def cjk_font_family(path: Path = NOTO_SANS_CJK) -> str:
    """Registers the font file with matplotlib and returns its family name.

    matplotlib 3.5 does not fall back from font to font per glyph, so the charts use this one
    family for everything; without it every Chinese character would be drawn as a box.
    """
    if not path.is_file():
        raise MissingCjkFont(f"no CJK font at {path}: {INSTALL_HINT}")
    font_manager.fontManager.addfont(str(path))
    family = str(font_manager.FontProperties(fname=str(path)).get_name())
    logger.debug("charts use the font %s from %s", family, path)
    return family
