"""Netgsm (Türkiye) over its REST v2 JSON API: POST /sms/rest/v2/send with HTTP Basic auth.

    {"msgheader": "KERVAN", "encoding": "TR", "iysfilter": "11", "messages": [{"msg": "...", "no": "5321112233"}]}
    → {"code": "00", "jobid": "17377215342605050417149344", "description": "queued"}

On a refusal the code says why (as a string, with its leading zero) and jobid is null, usually with an HTTP 4xx.
The codes and shapes are from Netgsm's official client (@netgsm/sms, src/enums.ts, src/netgsm.ts and src/types.ts),
as kept in ../shared/data/sms/netgsm (the tests read its netgsm_codes.csv): the send answer codes here, and what a
delivery report's status means (Report, read by the report webhook in webhooks.py).

"iysfilter" makes Netgsm check a marketing message against İYS (the national consent register) and drop it for a
recipient who refused there: "11" is marketing to an individual, "0" a transactional (informational) message that
İYS does not govern. Which one is chosen per message from Outgoing.marketing, never once per account: a single
setting would either send marketing unchecked or keep order updates from people who refused marketing.
"""

from dataclasses import dataclass
from typing import Any

from kervan.core import http
from kervan.messaging.channels.base import Outgoing, Sent, TransportError
from kervan.messaging.channels.sms.common import basic_auth, check_e164, from_http_error, json_body, later, timeout

PROVIDER = "Netgsm"
TRANSACTIONAL = "0"  # informational: not checked against İYS
# Letters Turkish needs that GSM-7 lacks: with any of them the text goes with "encoding": "TR", else Netgsm
# replaces them with their Latin look-alikes (ş → s). Ç, Ö, Ü, ö, ü are GSM-7 already.
TURKISH_ONLY = frozenset("şŞğĞıİç")
# Netgsm allows at most 20 tasks for one number a minute and limits the sending rate: a minute's wait is enough.
RATE_LIMIT_WAIT = 60.0

# The send endpoint's answer codes (SendSmsErrorCode), as: code → (what it means, permanent?).
SEND_CODES: dict[str, tuple[str, bool]] = {
    # "00": accepted; the message is queued and "jobid" names it for delivery reports.
    "20": ("message text problem, or longer than the maximum", True),
    "30": ("invalid user code or password, no API access, or a request from an IP not allowed", True),
    "40": ("the message header (sender name) is not defined for this account", True),
    "50": ("İYS-checked sending is not allowed for this account", True),
    "51": ("no İYS brand code for this account", True),
    "70": ("invalid request: a parameter is wrong or missing", True),
    "80": ("sending rate limit exceeded", False),
    "85": ("more than 20 tasks for the same number within a minute", False),
    "100": ("Netgsm system error", False),
    "101": ("Netgsm system error", False),
}
RATE_LIMITED = frozenset({"80", "85"})

# A delivery report's "status" (SmsStatus): 0 the message is still on its way, 1 delivered; each other is final and
# not delivered, as code → (what it means, the number itself is bad?). 100 ("all") only filters a report query.
REPORT_PENDING = 0
REPORT_DELIVERED = 1
REPORT_FAILED: dict[int, tuple[str, bool]] = {
    2: ("expired: not delivered within the validity period", False),
    3: ("invalid or restricted number", True),
    4: ("not sent to the operator", False),
    11: ("rejected by the operator", False),
    12: ("delivery error", False),
    13: ("duplicate message", False),
    14: ("insufficient credit", False),
    # The recipient blocked the account's messages (Netgsm's blacklist): never worth sending to again.
    15: ("the number is blacklisted", True),
    # The recipient refused marketing in İYS: a consent answer, not a bad number (it still takes transactional ones).
    16: ("refused in İYS", False),
    17: ("İYS error", False),
}


@dataclass(frozen=True)
class Report:
    """One message's state in a Netgsm delivery report: its job id and SmsStatus code."""

    jobid: str
    status: int

    @property
    def outcome(self) -> str:
        """ "delivered", "failed" (final) or "pending" (still on its way, or a status Netgsm does not document: a
        later report will say)."""
        if self.status == REPORT_DELIVERED:
            return "delivered"
        return "failed" if self.status in REPORT_FAILED else "pending"

    @property
    def error(self) -> str:
        meaning, _bad_number = REPORT_FAILED.get(self.status, ("not delivered", False))
        return f"{PROVIDER} {self.status}: {meaning}"

    @property
    def bad_number(self) -> bool:
        return REPORT_FAILED.get(self.status, ("", False))[1]


def report_status(value: object) -> int | None:
    """A report's status as its code: a JSON number (1) or the text of one ("1", "01"); None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else None


def parse_reports(answer: object) -> list[Report]:
    """The messages of a report in the REST v2 shape, {"code": "00", "jobs": [{"jobid", "status", ...}]}, or the
    older {"response": {"job": [...]}}; entries without a job id or a numeric status are left out. Kervan sends one
    number per job, so a job id names one message."""
    if not isinstance(answer, dict):
        return []
    jobs = answer.get("jobs")
    if jobs is None and isinstance(answer.get("response"), dict):
        jobs = answer["response"].get("job")
    reports = []
    for job in jobs if isinstance(jobs, list) else []:
        if not isinstance(job, dict):
            continue
        jobid, status = str(job.get("jobid") or "").strip(), report_status(job.get("status"))
        if jobid and status is not None:
            reports.append(Report(jobid=jobid, status=status))
    return reports


class NetgsmTransport:
    channel = "sms"

    def __init__(
        self,
        usercode: str,
        password: str,
        header: str,
        url: str = "https://api.netgsm.com.tr/sms/rest/v2/send",
        iys_filter: str = "11",
        timeout: float = 10,
        report_token: str = "",
    ) -> None:
        self.usercode = usercode
        self.password = password
        self.header = header
        self.url = url
        self.iys_filter = iys_filter  # for marketing: "11" individuals, "12" merchants (tacir)
        self.timeout = timeout
        # Not used to send: the delivery-report webhook (webhooks.netgsm_report) reads it from the same settings.
        self.report_token = report_token

    def __enter__(self) -> "NetgsmTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # kervan.core.http keeps the connections, per process

    def send(self, message: Outgoing) -> Sent:
        number = netgsm_number(check_e164(message.to, PROVIDER))
        if not message.text:
            raise TransportError(f"{PROVIDER}: the message has no text", permanent=True)
        payload: dict[str, Any] = {
            "msgheader": message.sender.address or self.header,
            "messages": [{"msg": message.text, "no": number}],
            "iysfilter": self.iys_filter if message.marketing else TRANSACTIONAL,
        }
        if TURKISH_ONLY.intersection(message.text):
            payload["encoding"] = "TR"
        try:
            response = http.request(
                "POST",
                self.url,
                json=payload,
                headers={"Authorization": basic_auth(self.usercode, self.password)},
                timeout=timeout(self.timeout),
            )
        except http.HttpError as error:
            answer = json_body(error.body)
            if isinstance(answer, dict) and str(answer.get("code") or "") in SEND_CODES:
                raise _code_error(answer) from error
            raise from_http_error(error, PROVIDER, error.body[:200]) from error
        answer = json_body(response.body)
        if not isinstance(answer, dict):
            # Accepted by HTTP but not understood: the message may have gone, so it is not tried again.
            raise TransportError(f"{PROVIDER}: unreadable answer: {response.text[:200]}", permanent=True)
        if str(answer.get("code")) == "00" and answer.get("jobid"):
            return Sent(provider_id=str(answer["jobid"]))
        raise _code_error(answer)


def netgsm_number(e164: str) -> str:
    """Netgsm takes a Turkish number as its 10 national digits without the leading 0 ("5321112233"), and a number
    abroad with the international prefix 00 instead of the plus ("004915112345678")."""
    if e164.startswith("+90"):
        national = e164[3:]
        if len(national) != 10:
            raise TransportError(f"{PROVIDER}: {e164} is not a Turkish number", permanent=True, address_rejected=True)
        return national
    return "00" + e164[1:]


def _code_error(answer: dict[str, Any]) -> TransportError:
    code = str(answer.get("code") or "")
    meaning, permanent = SEND_CODES.get(code, ("unknown answer code", True))
    description = str(answer.get("description") or "")[:200]
    reason = f"{PROVIDER} {code or '?'}: {meaning}" + (f" ({description})" if description else "")
    # Netgsm gives no Retry-After: a rate limit waits a minute, a system error takes the sender's back-off.
    retry_at = later(RATE_LIMIT_WAIT) if code in RATE_LIMITED else None
    return TransportError(reason, permanent=permanent, retry_at=retry_at)
