"""HL7 escape sequences (HL7 v2.8 chapter 2, section 2.7): decoding and encoding.

| sequence | meaning |
| --- | --- |
| \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ | field, component, subcomponent, repetition separator and escape character |
| \\Xhhhh\\ | bytes in hexadecimal, in the message's character set |
| \\.br\\ \\.sp\\ | line break (formatted text) |
| \\H\\ \\N\\ | start and end of highlighting; removed, so no marker reaches display text |
| \\.in\\ \\.ti\\ \\.sk\\ \\.ce\\ \\.fi\\ \\.nf\\ | other formatting commands; removed |
| \\Cxxyy\\ \\Mxxyyzz\\ | character set switches; removed, the text between them is kept |
| \\Zxxx\\ | locally defined; removed |
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Separators", "escape", "unescape", "DEFAULT_SEPARATORS"]


@dataclass(frozen=True)
class Separators:
    """The delimiters of one message, from MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str | None = None

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as it is written in an outgoing message."""
        return self.component + self.repetition + self.escape + self.subcomponent + (self.truncation or "")


DEFAULT_SEPARATORS = Separators()


def unescape(text: str, separators: Separators, charset: str = "ascii") -> str:
    """Replace the escape sequences of one field value by the text they stand for."""
    esc = separators.escape
    if esc not in text:
        return text
    delimiters = {
        "F": separators.field,
        "S": separators.component,
        "T": separators.subcomponent,
        "R": separators.repetition,
        "E": esc,
    }
    out: list[str] = []
    position = 0
    while position < len(text):
        start = text.find(esc, position)
        if start < 0:
            out.append(text[position:])
            break
        end = text.find(esc, start + 1)
        if end < 0:
            # An escape character without its closing partner is kept as written.
            out.append(text[position:])
            break
        out.append(text[position:start])
        out.append(_decode_sequence(text[start + 1:end], delimiters, esc, charset))
        position = end + 1
    return "".join(out)


def _decode_sequence(body: str, delimiters: dict[str, str], esc: str, charset: str) -> str:
    if body in delimiters:
        return delimiters[body]
    if body in (".br", ".sp") or body.startswith(".sp"):
        return "\n"
    if body in ("H", "N") or body.startswith((".in", ".ti", ".sk", ".ce", ".fi", ".nf", "C", "M", "Z")):
        return ""
    if body.startswith("X") and len(body) % 2 == 1:
        try:
            return bytes.fromhex(body[1:]).decode(charset)
        except (ValueError, LookupError):
            pass
    # Unknown sequences stay literal rather than being guessed at.
    return esc + body + esc


def escape(text: str, separators: Separators) -> str:
    """Write text as a field value: delimiters and line breaks become escape sequences."""
    esc = separators.escape
    replacements = {
        esc: f"{esc}E{esc}",
        separators.field: f"{esc}F{esc}",
        separators.component: f"{esc}S{esc}",
        separators.subcomponent: f"{esc}T{esc}",
        separators.repetition: f"{esc}R{esc}",
        "\n": f"{esc}.br{esc}",
        "\r": f"{esc}X0D{esc}",
    }
    return "".join(replacements.get(char, char) for char in text)
