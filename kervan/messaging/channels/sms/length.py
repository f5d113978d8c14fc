"""How long an SMS is: GSM-7 or UCS-2, how many characters that encoding counts, how many parts it goes out as.

The counting is GSM 03.38 (3GPP TS 23.038): text made only of the basic character set goes as GSM-7, where each
character of the extension table costs 2 (an escape and the character); one part holds 160, a concatenated message
153 per part (the rest of the 140 bytes is the concatenation header). Any other character (Turkish ş, ğ, ı, İ, the
lower-case ç, an emoji) makes the whole message UCS-2: 70 in one part, 67 per part when concatenated, counted in
UTF-16 units (an emoji outside the BMP costs 2). A part never splits an escape pair or a surrogate pair, so a
character that does not fit whole starts the next part.

Netgsm's "TR" encoding uses the Turkish national shift table instead of UCS-2 (Turkish letters cost 2 in a shorter
GSM-7 part); Twilio and most providers use UCS-2. The count here is the UCS-2 one, which never shows fewer parts
than Netgsm bills.

kervan/messaging/static/messaging/sms_length.js is this module's twin for the SMS editor: keep GSM7_BASIC,
GSM7_EXTENDED and the limits below identical in both files (test_sms_length compares the tables in the two files).
"""

from dataclasses import dataclass

__all__ = ["GSM7_BASIC", "GSM7_EXTENDED", "SmsLength", "sms_parts"]

# The GSM 03.38 default alphabet, in table order (0x00–0x7F), without 0x1B (the escape to the extension table,
# which is not a character a text can contain).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets. Form feed is in the table too, and counted the same way.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" | "UCS-2"
    characters: int  # what the encoding counts: septets for GSM-7, UTF-16 units for UCS-2
    parts: int  # 0 for an empty text: nothing to send
    per_part: int  # what one part holds for this message (160/153 or 70/67)


def sms_parts(text: str) -> SmsLength:
    gsm7 = all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)
    if gsm7:
        costs = [2 if char in GSM7_EXTENDED else 1 for char in text]
        single, multi, encoding = GSM7_SINGLE, GSM7_MULTI, "GSM-7"
    else:
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, multi, encoding = UCS2_SINGLE, UCS2_MULTI, "UCS-2"
    characters = sum(costs)
    if characters == 0:
        return SmsLength(encoding, 0, 0, single)
    if characters <= single:
        return SmsLength(encoding, characters, 1, single)
    return SmsLength(encoding, characters, _pack(costs, multi), multi)


def _pack(costs: list[int], capacity: int) -> int:
    """Parts needed when no character may straddle two parts."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts, used = parts + 1, 0
        used += cost
    return parts
