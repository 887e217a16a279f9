"""Text cleaning at the core boundary: user text never carries terminal control sequences."""

import re

# ESC sequences (CSI, OSC, DCS/PM/APC/SOS strings, two-byte escapes), C1 controls, C0 controls except
# tab and newline, and DEL.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)"  # OSC / DCS / SOS / PM / APC string up to its terminator
    r"|\x1b[@-Z\\-_]?"  # other escapes (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]",
    re.DOTALL,
)


def clean_text(value: str) -> str:
    """Strip control and escape sequences; CR LF and lone CR become LF."""
    if not value:
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if value.isprintable():
        return value
    return _CONTROL.sub("", value)


def clean_line(value: str) -> str:
    """As clean_text, and newlines/tabs become spaces: for single-line properties."""
    value = clean_text(value)
    if "\n" in value or "\t" in value:
        value = value.replace("\n", " ").replace("\t", " ")
    return value
