"""Twilio's Programmable Messaging over its REST API (2010-04-01): POST /Accounts/{sid}/Messages.json, form-encoded,
HTTP Basic auth with the account SID and auth token; 201 and the Message resource ({"sid": "SM…", "status":
"queued", …}) when accepted. A refusal is a 4xx with {"code": 21211, "message": "…", "more_info": "…", "status":
400}: the code says whether the number is the problem (the address is suppressed), the account or sender is
(permanent, fix the settings), or Twilio is busy (try again).

From is the sender identity's originator, else the configured number; with a Messaging Service SID Twilio picks the
sender from the service's pool instead. StatusCallback, when set, points Twilio's delivery reports at
webhooks.twilio_status.
"""

from urllib.parse import quote, urlencode

from kervan.core import http
from kervan.messaging.channels.base import Outgoing, Sent, TransportError
from kervan.messaging.channels.sms.common import basic_auth, check_e164, from_http_error, json_body, timeout

PROVIDER = "Twilio"

# Twilio error codes (twilio.com/docs/api/errors) that say the recipient's number is the problem: the address is
# rejected and suppressed, no later try will reach it.
ADDRESS_CODES = {
    21211: "invalid 'To' phone number",
    21614: "'To' number is not a valid mobile number",
    21610: "the recipient replied STOP: Twilio refuses to send to an unsubscribed number",
}
# Codes that are the account's, sender's or message's problem: permanent for this message, the address stays.
PERMANENT_CODES = {
    20003: "authentication failed: check the account SID and auth token",
    20404: "not found: check the account SID",
    21408: "sending to this region is not enabled on the account",
    21602: "the message body is required",
    21606: "the 'From' number cannot send SMS or is not on this account",
    21612: "the 'To' number cannot be reached from this sender",
    21617: "the message is longer than 1600 characters",
    21659: "the 'From' number is not a Twilio number",
}
# Codes that may go later: Twilio's own rate and queue limits.
RETRYABLE_CODES = {
    20429: "too many requests",
    30001: "queue overflow",
}


class TwilioTransport:
    channel = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        url: str = "https://api.twilio.com",
        status_callback: str = "",
        timeout: float = 10,
        inbound_url: str = "",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.url = url.rstrip("/")
        self.status_callback = status_callback
        self.timeout = timeout
        # Not used to send: the URL Twilio was given for inbound messages, which webhooks.twilio_inbound checks the
        # signature against when a proxy makes the request look different to Django.
        self.inbound_url = inbound_url

    def __enter__(self) -> "TwilioTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # kervan.core.http keeps the connections, per process

    @property
    def endpoint(self) -> str:
        return f"{self.url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}/Messages.json"

    def send(self, message: Outgoing) -> Sent:
        to = check_e164(message.to, PROVIDER)
        if not message.text:
            raise TransportError(f"{PROVIDER}: the message has no text", permanent=True)
        form = {"To": to, "Body": message.text}
        sender = message.sender.address or self.from_number
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
            if message.sender.address:  # an explicit originator still wins over the pool
                form["From"] = message.sender.address
        elif sender:
            form["From"] = sender
        else:
            raise TransportError(f"{PROVIDER}: no sender: set from_number or messaging_service_sid", permanent=True)
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = http.request(
                "POST",
                self.endpoint,
                body=urlencode(form),
                headers={
                    "Authorization": basic_auth(self.account_sid, self.auth_token),
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                timeout=timeout(self.timeout),
                # Twilio's 500 is an internal error it asks clients to retry; the sender does so later, as a POST
                # is not repeated within the call (it may have created the message).
                retry=http.Retry(on_500=True),
            )
        except http.HttpError as error:
            raise _error(error) from error
        answer = json_body(response.body)
        if not isinstance(answer, dict) or not answer.get("sid"):
            raise TransportError(f"{PROVIDER}: unreadable answer: {response.text[:200]}", permanent=True)
        return Sent(provider_id=str(answer["sid"]))


def _error(error: http.HttpError) -> TransportError:
    answer = json_body(error.body)
    code = answer.get("code") if isinstance(answer, dict) else None
    detail = str(answer.get("message") or "")[:200] if isinstance(answer, dict) else error.body[:200]
    if isinstance(code, int):
        reason = f"{PROVIDER} {code}: "
        if code in ADDRESS_CODES:
            return TransportError(reason + f"{ADDRESS_CODES[code]} ({detail})", permanent=True, address_rejected=True)
        if code in PERMANENT_CODES:
            return TransportError(reason + f"{PERMANENT_CODES[code]} ({detail})", permanent=True)
        if code in RETRYABLE_CODES:
            retryable = from_http_error(error, PROVIDER)
            return TransportError(
                reason + f"{RETRYABLE_CODES[code]} ({detail})", permanent=False, retry_at=retryable.retry_at
            )
    # Any other code: HTTP's verdict (4xx permanent; 429, 5xx retryable), with Twilio's words.
    return from_http_error(error, PROVIDER, f"{code} {detail}" if code else detail)
