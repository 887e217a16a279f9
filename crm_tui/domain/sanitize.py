"""Text cleaning: the ONE place that decides what text may reach a terminal or become a key.

Every text that is stored from a user or a file (values, and the labels of objects, properties,
options, pipelines, stages and association labels) and every text shown (the app's widgets, the
command line's plain and JSON output) passes through these functions:

- `clean_text`: escape sequences (CSI, OSC such as OSC 52 clipboard writes and OSC 8 hyperlinks,
  DCS/PM/APC/SOS strings, 8-bit CSI), C0/C1 controls except tab and newline, DEL, and the bidi
  embedding/override/isolate controls that can make text read backwards are removed.
- `clean_line`: the same, on one line (tabs and newlines become spaces).
- `clean_key`: for emails, domains, phones and URLs: also zero-width and other invisible format
  characters, which would otherwise make a lookalike of an existing key.
- `clean_label`: a label to store: cleaned, trimmed, refused when nothing is left.
- `json_text`: JSON output with C1 controls, DEL, bidi controls and line separators escaped.
"""

import re
from .errors import InvalidValue

# ESC sequences (CSI, OSC, DCS/PM/APC/SOS strings, two-byte escapes), C1 controls, C0 controls except
# tab and newline, DEL, and the bidi embedding / override / isolate controls.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)"  # OSC / DCS / SOS / PM / APC string up to its terminator
    r"|\x1b[@-Z\\-_]?"  # other escapes (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
    re.DOTALL,
)
# Invisible format characters that make two keys look alike: zero-width space/joiners, word joiner
# and invisible operators, LRM/RLM/ALM, BOM, soft hyphen, Mongolian vowel separator.
_INVISIBLE = re.compile(r"[\u00ad\u061c\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
# What JSON output escapes although json.dumps(ensure_ascii=False) leaves it raw.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def clean_text(value: str) -> str:
    """Strip control and escape sequences; CR LF and lone CR become LF."""
    if not value:
        return value
    if "\r" in value:
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


def clean_key(value: str) -> str:
    """As clean_line, and zero-width / invisible format characters removed: for emails, domains,
    phones and URLs, so `acme\u200b.com` cannot pass for `acme.com`."""
    value = clean_line(value)
    if not value.isprintable() or "\u00ad" in value:
        value = _INVISIBLE.sub("", value)
    return value


def clean_label(value, what: str = "a label") -> str:
    """A label or name to store: cleaned, on one line, trimmed; refused when nothing is left."""
    text = "" if value is None else str(value)
    cleaned = clean_line(text).strip()
    if not cleaned:
        if text.strip():
            raise InvalidValue(f"{what} is empty after removing control characters")
        raise InvalidValue(f"{what} is required")
    return cleaned


def json_text(text: str) -> str:
    """JSON (already made by json.dumps) with the characters a terminal could act on escaped as
    \\uXXXX: still the same JSON value, byte for byte safe to print."""
    if text.isascii():
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
