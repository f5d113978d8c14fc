import time

import pyotp


def totp_code(secret: str, step: int = 0) -> str:
    """The code for now (step 0) or a neighbouring 30-second step; both are accepted (valid_window=1)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * step)
