"""Phone and email text as a person typed or pasted it, read as the characters it shows.

Real forms and exports carry characters no one sees: an iPhone wraps a number copied from
Contacts in U+202A ... U+202C, Android and chat exports use isolates (U+2066 ... U+2069) and
marks (U+200E, U+200F), a copy from a web page brings a zero-width space (U+200B) or a
byte-order mark (U+FEFF), a spreadsheet cell ends in a tab, and an input method for Japanese
or Chinese writes full-width letters and digits (U+FF01 ... U+FF5E: an address, ``+91``).
`shown` gives the text a reader sees: full-width forms as their ASCII letters, digits and signs
(U+FF01 ... U+FF5E, and the ideographic space as a space), as the phone library already reads
full-width digits, with every format character (Unicode category Cf) removed. Not NFKC as a
whole: it would also turn a mask's ellipsis ``98……10`` into dots, which read otherwise
(`resolver.junk`). ASCII text is returned as it is (nearly every value: one `str.isascii`).

A phone or an email is only ever shown, linked or explained as its normalised form, so these
characters carry nothing there; a name keeps them (`resolver.interaction.RULES` refuses the
reordering ones), and an id is compared exactly.
"""

from __future__ import annotations

import unicodedata

__all__ = ["shown"]

#: Full-width ASCII forms (U+FF01 ... U+FF5E) to ASCII, and the ideographic space to a space.
_WIDE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def shown(text: str) -> str:
    """`text` with full-width forms as ASCII and without format characters (Unicode Cf).

    ASCII text is returned unchanged (the same object).
    """
    if text.isascii():
        return text
    return "".join(ch for ch in text.translate(_WIDE) if unicodedata.category(ch) != "Cf")
