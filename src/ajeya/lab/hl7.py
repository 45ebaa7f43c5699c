"""Reading an analyzer's HL7 v2.x ORU^R01 result message, and writing the
acknowledgement (original mode) that answers it.

This module splits the message into segments and fields (once the header has shown the
standard separators, that is all a parser does for these messages: ADR 0013; tests hold
the split to python-hl7's), holds it to Ajeya's profile and says precisely what is
wrong, with the acknowledgement HL7 v2.5.1 prescribes:

- AR (reject) when the header itself is unusable, so no application could process
  the message: no MSH or a garbled one, encoding characters other than ``|^~\\&``,
  text that is not UTF-8, message type not ORU (200) or event not R01 (201), processing
  id not the one this listener takes (202), version not 2.x (203), an empty
  required MSH field (101) or one too long to keep (102).
- AE (error) when the header is fine but the content is not: a required segment or
  field is missing (101: PID, OBR, the accession, OBX-3, OBX-5), segments are out of
  order or have invalid ids (100), a value holds control characters (102), an
  OBX-11 result status is not in table 0085 (103).

Profile choices (stricter or looser than the base standard, on purpose):

- Segments end with CR; CR LF and a lone LF are accepted too, blank lines skipped.
- Encoding characters must be the standard ``^~\\&`` (a 2.7+ truncation character
  after them is allowed): every analyzer in use sends them, and an acknowledgement
  can then echo the sender's header fields verbatim.
- PID is required (the base ORU^R01 makes it optional): a result without a patient
  segment is not one a laboratory should take from a machine.
- One sample per message: every OBR must name the same accession (OBR-3 filler order
  number, else OBR-2 placer order number, else SPM-2 specimen id).
- OBX segments after an SPM describe the specimen (its quality, volume), not the
  ordered tests: they are kept in the raw message and not read as results.
- OBX-11 result status F, C, P, R, S, U (or empty, read as F) carries a value that is
  stored. X (cannot be obtained), I (pending), N (not asked), O (order detail) carry
  none, and D (delete) / W (wrong) ask to withdraw a result, which Ajeya never does
  on a machine's word (the technician does it in the lab): these observations are
  skipped, and the raw message is kept with the rest.
- Escape sequences are decoded here: python-hl7's unescape trusts the repetition count
  of ``\\.sp<n>\\`` (``\\.sp999999999\\`` builds a gigabyte string) and raises on a
  malformed one.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.conf import settings

from ajeya.core import clock
from ajeya.lab.services import AckCode, AnalyzerMessage, Observation

FIELD_SEPARATOR = "|"
ENCODING_CHARACTERS = "^~\\&"
ACK_VERSION = "2.5.1"
ACK_SENDER = "AJEYA"
MAX_KEY_LENGTH = 60  # InboundMessage keeps MSH-3, MSH-4 and MSH-10 in 60 characters
MSA_TEXT_LENGTH = 80  # MSA-3 is ST(80); the whole text goes to ERR-8
ERR_TEXT_LENGTH = 1000
ECHO_LENGTH = 200

# HL7 table 0357 (message error condition codes), v2.5.1.
ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}

# HL7 table 0085 (observation result status).
STATUS_WITH_VALUE = frozenset("FCPRSU")
STATUS_WITHOUT_VALUE = frozenset("XINODW")

SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
VERSION = re.compile(r"2\.\d{1,2}(\.\d{1,2})?\Z")
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
ESCAPE = re.compile(r"\\([^\\\r]*)\\")
HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+\Z")
SIMPLE_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", "H": "", "N": ""}


@dataclass(frozen=True)
class Header:
    """What an acknowledgement needs from the message it answers, read leniently (the
    raw field text, so it can be echoed) even from a message that is otherwise refused."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""
    encoding: str = ""  # MSH-1 followed by MSH-2, as sent


class HL7Error(Exception):
    """A message-level problem: answer `ack` (AR or AE) with the table 0357 `error_code`
    and `text`; `control_id` is MSH-10 when it could be read (else empty)."""

    def __init__(
        self,
        ack: str,
        error_code: str,
        text: str,
        control_id: str = "",
        *,
        header: Header | None = None,
        location: str = "",
    ) -> None:
        super().__init__(text)
        self.ack = ack
        self.error_code = error_code
        self.text = text
        self.header = header or Header(control_id=control_id)
        self.control_id = control_id or self.header.control_id
        self.location = location  # ERR-2, e.g. "OBX^2^5"

    def __repr__(self) -> str:
        return f"HL7Error({self.ack}, {self.error_code}, {self.text!r})"


# -- reading -------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The bytes of one MLLP frame as text. HL7 here is UTF-8 (ASCII is a subset of it);
    anything else is refused rather than guessed at."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        header = read_header(data.decode("utf-8", "replace"))
        raise HL7Error(
            AckCode.REJECT,
            "102",
            f"The message is not UTF-8 (byte 0x{data[exc.start]:02X} at position {exc.start}): "
            "set the analyzer's HL7 character set to UTF-8 or ASCII.",
            header=header,
        ) from None
    return text.removeprefix("\ufeff")


def _first_segment(text: str) -> str:
    start = text.lstrip("\ufeff \t\r\n")
    end = len(start)
    for terminator in ("\r", "\n"):
        found = start.find(terminator, 0, end)
        if found >= 0:
            end = found
    return start[:end]


def _echo(value: str, standard: bool) -> str:
    """A header field as it may go back into an acknowledgement: no control characters
    (they could break the MLLP frame), bounded, and escaped if the sender's own
    separators are not the standard ones the acknowledgement uses."""
    value = CONTROL_CHARACTER.sub("", value.replace("\r", "").replace("\n", ""))
    value = SURROGATE.sub("", value)[:ECHO_LENGTH]
    return value if standard else escape(value)


def read_header(text: str) -> Header:
    """MSH read as far as it can be; never raises (an empty Header when there is no MSH)."""
    first = _first_segment(text)
    if not first.startswith("MSH") or len(first) < 4:
        return Header()
    separator = first[3]
    if separator.isalnum() or separator.isspace() or ord(separator) < 0x20:
        return Header()
    fields = first.split(separator, 12)  # fields[n - 1] is MSH-n for n >= 2
    encoding = separator + (fields[1] if len(fields) > 1 else "")
    standard = encoding in (FIELD_SEPARATOR + ENCODING_CHARACTERS, FIELD_SEPARATOR + "^~\\&#")

    def field(n: int) -> str:
        return _echo(fields[n - 1], standard) if n - 1 < len(fields) else ""

    return Header(
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        message_type=field(9),
        control_id=field(10),
        processing_id=field(11).split("^", 1)[0],
        version=field(12).split("^", 1)[0],
        encoding=_echo(encoding, True)[:8],
    )


def unescape(text: str) -> str:
    """Decode HL7 escape sequences (§2.7): separators, hex data (UTF-8), formatting
    commands as plain spacing; an unknown sequence is dropped."""
    if "\\" not in text:
        return text

    def one(match: re.Match) -> str:
        code = match.group(1)
        if code in SIMPLE_ESCAPES:
            return SIMPLE_ESCAPES[code]
        if code[:1] == "X" and HEX.match(code[1:]):
            return bytes.fromhex(code[1:]).decode("utf-8", "replace")
        if code[:3] in (".br", ".sp", ".ce"):
            return "\n"
        if code[:3] in (".in", ".ti", ".sk"):
            return " "
        return ""

    return ESCAPE.sub(one, text)


def component(raw: str, number: int = 1, sub: int = 1, repetition: int = 1) -> str:
    """One (sub)component of a field's raw text, unescaped; empty when absent."""
    repetitions = raw.split("~")
    if repetition > len(repetitions):
        return ""
    components = repetitions[repetition - 1].split("^")
    if number > len(components):
        return ""
    subs = components[number - 1].split("&")
    if sub > len(subs):
        return ""
    return unescape(subs[sub - 1])


class _Reader:
    """One message being read; raises HL7Error at the first problem."""

    def __init__(self, text: str, header: Header) -> None:
        self.text = text
        self.header = header
        self.counts: dict[str, int] = {}

    def reject(self, code: str, text: str) -> HL7Error:
        return HL7Error(AckCode.REJECT, code, text, header=self.header)

    def error(self, code: str, text: str, location: str = "") -> HL7Error:
        return HL7Error(AckCode.ERROR, code, text, header=self.header, location=location)

    # -- the header ----------------------------------------------------------------

    def check_characters(self) -> None:
        if SURROGATE.search(self.text):
            raise self.reject("102", "The message is not valid Unicode text.")
        bad = CONTROL_CHARACTER.search(self.text)
        if bad:
            raise self.reject(
                "102",
                f"Control character 0x{ord(bad.group()):02X} at position {bad.start()}: "
                "HL7 text may not contain it (MLLP framing characters included).",
            )

    def check_header(self, first: str) -> dict[int, str]:
        """MSH checked; returns MSH-3, MSH-4 and MSH-10 (first components, unescaped)."""
        if not first.startswith("MSH"):
            raise self.reject("100", "The message does not begin with an MSH segment.")
        if first[3:4] != FIELD_SEPARATOR:
            raise self.reject(
                "102", "MSH-1 field separator is not the standard one (vertical bar)."
            )
        fields = first.split(FIELD_SEPARATOR)
        raw = {n: fields[n - 1] for n in range(2, len(fields) + 1)}
        if raw.get(2) not in (ENCODING_CHARACTERS, ENCODING_CHARACTERS + "#"):
            raise self.reject(
                "102",
                "MSH-2 encoding characters are not the standard four (caret, tilde, "
                "backslash, ampersand): set the analyzer to send those.",
            )
        return self.check_header_fields(raw)

    def check_header_fields(self, raw: dict[int, str]) -> dict[int, str]:
        def value(n: int, c: int = 1) -> str:
            return component(raw.get(n, ""), c).strip()

        for n, name in ((9, "message type"), (10, "message control id"),
                        (11, "processing id"), (12, "version id"),
                        (3, "sending application")):  # fmt: skip
            if not value(n):
                raise self.reject("101", f"MSH-{n} {name} is empty.")
        if value(9) != "ORU":
            raise self.reject(
                "200", f"Message type {value(9)!r} is not taken here: Ajeya takes ORU^R01."
            )
        if value(9, 2) not in ("", "R01"):
            raise self.reject(
                "201", f"Event {value(9, 2)!r} is not taken here: Ajeya takes ORU^R01."
            )
        if not VERSION.match(value(12)):
            raise self.reject(
                "203", f"HL7 version {value(12)!r} is not supported: Ajeya takes v2.x."
            )
        wanted = settings.AJEYA_HL7_PROCESSING_ID
        if value(11) != wanted:
            raise self.reject(
                "202",
                f"Processing id {value(11)!r}: this listener takes {wanted!r} messages "
                "(AJEYA_HL7_PROCESSING_ID).",
            )
        for n, name in ((3, "sending application"), (4, "sending facility"),
                        (10, "message control id")):  # fmt: skip
            if len(value(n)) > MAX_KEY_LENGTH:
                raise self.reject(
                    "102", f"MSH-{n} {name} is longer than {MAX_KEY_LENGTH} characters."
                )
            if CONTROL_CHARACTER.search(value(n)):
                raise self.reject("102", f"MSH-{n} {name} holds a control character.")
        return {3: value(3), 4: value(4), 10: value(10)}

    # -- the body ------------------------------------------------------------------

    def segments(self, body: str) -> list[tuple[str, list[str]]]:
        """Each segment's id and its fields' raw text (`fields[n]` is field n; MSH is
        read by `check_header`). Components are split by `component` when a field is
        read: the separators are the standard ones (checked before), so a field is the
        text between two bars (ADR 0013)."""
        out = []
        for position, segment in enumerate(body.split("\r"), start=1):
            fields = segment.split(FIELD_SEPARATOR)
            sid = fields[0]
            if position > 1 and sid == "MSH":
                raise self.error(
                    "100", f"Segment {position} is a second MSH: send one message per frame."
                )
            if not SEGMENT_ID.match(sid):
                raise self.error(
                    "100", f"Segment {position} has an invalid segment id {sid[:10]!r}."
                )
            out.append((sid, fields))
        return out

    def place(self, sid: str) -> int:
        self.counts[sid] = self.counts.get(sid, 0) + 1
        return self.counts[sid]

    def clean(self, value: str, where: str, location: str) -> str:
        value = " ".join(value.replace("\r", " ").replace("\n", " ").replace("\t", " ").split())
        if CONTROL_CHARACTER.search(value):
            raise self.error("102", f"{where} holds a control character.", location)
        return value

    def observation(self, fields: list[str], n: int) -> Observation | None:
        def raw(i: int) -> str:
            return fields[i] if i < len(fields) else ""

        code = self.clean(component(raw(3)), f"OBX {n}: OBX-3", f"OBX^{n}^3")
        if not code:
            raise self.error(
                "101", f"OBX {n}: OBX-3 observation identifier is empty.", f"OBX^{n}^3"
            )
        status = component(raw(11)).strip().upper() or "F"
        if status in STATUS_WITHOUT_VALUE:
            return None
        if status not in STATUS_WITH_VALUE:
            raise self.error(
                "103",
                f"OBX {n} ({code}): result status {status[:10]!r} is not in HL7 table 0085.",
                f"OBX^{n}^11",
            )
        value_type = component(raw(2)).strip().upper()
        parts = []
        for repetition in range(1, raw(5).count("~") + 2):
            if value_type in ("CE", "CWE", "CNE", "CF"):
                part = component(raw(5), 2, repetition=repetition) or component(
                    raw(5), 1, repetition=repetition
                )
            elif value_type == "SN":
                part = "".join(component(raw(5), c, repetition=repetition) for c in range(1, 5))
            else:
                part = unescape(raw(5).split("~")[repetition - 1])
            parts.append(part)
        value = self.clean(" ".join(parts), f"OBX {n} ({code}): OBX-5", f"OBX^{n}^5")
        if not value or value == '""':
            raise self.error(
                "101", f"OBX {n} ({code}): OBX-5 observation value is empty.", f"OBX^{n}^5"
            )
        unit = self.clean(component(raw(6)), f"OBX {n}: OBX-6", f"OBX^{n}^6")
        set_id = self.clean(component(raw(1)), f"OBX {n}: OBX-1", f"OBX^{n}^1")
        return Observation(code=code, value=value, unit=unit, status=status, set_id=set_id)

    def body(self, segments: list[tuple[str, list[str]]]) -> tuple[str, list[Observation]]:
        ids = [sid for sid, _ in segments]
        if "PID" not in ids:
            raise self.error("101", "The message has no PID (patient) segment.")
        if "OBR" not in ids:
            raise self.error("101", "The message has no OBR (observation request) segment.")
        groups, observations = self.walk(segments[1:])
        return self.accession(groups), observations

    def walk(self, segments: list[tuple[str, list[str]]]) -> tuple[list[dict], list[Observation]]:
        """The segments after MSH in order: PID, then OBR groups with their OBX."""
        pid_seen = False
        groups: list[dict[str, str]] = []
        observations: list[Observation] = []
        in_specimen = False
        for sid, fields in segments:
            n = self.place(sid)
            raw = fields + [""] * 4  # the fields read below, present or not
            if sid == "PID":
                if pid_seen or groups:
                    raise self.error(
                        "100", "A second PID: Ajeya takes one patient's results per message."
                    )
                pid_seen = True
                # PID-3's first identifier: kept so a message waiting to be matched
                # is known as this patient's (its raw text names them).
                self.patient_id = component(raw[3])[:40]
            elif sid == "OBR":
                if not pid_seen:
                    raise self.error("100", "OBR comes before PID.", f"OBR^{n}")
                accession = component(raw[3]) or component(raw[2])
                groups.append(
                    {"n": str(n), "order": self.clean(accession, f"OBR {n}", f"OBR^{n}^3")}
                )
                in_specimen = False
            elif sid == "SPM":
                if not groups:
                    raise self.error("100", "SPM comes before any OBR.", f"SPM^{n}")
                specimen = component(raw[2], 2) or component(raw[2], 1)
                groups[-1].setdefault("specimen", self.clean(specimen, f"SPM {n}", f"SPM^{n}^2"))
                in_specimen = True
            elif sid == "OBX":
                if not groups:
                    raise self.error("100", f"OBX {n} comes before any OBR.", f"OBX^{n}")
                found = None if in_specimen else self.observation(fields, n)
                if found is not None:
                    observations.append(found)
        return groups, observations

    def accession(self, groups: list[dict[str, str]]) -> str:
        """The one sample every OBR group names (OBR-3, else OBR-2, else SPM-2)."""
        accessions: list[str] = []
        for group in groups:
            accession = group["order"] or group.get("specimen", "")
            if not accession:
                raise self.error(
                    "101",
                    f"OBR {group['n']}: no accession: OBR-3 filler order number is empty "
                    "and neither OBR-2 nor SPM-2 gives one.",
                    f"OBR^{group['n']}^3",
                )
            if accession not in accessions:
                accessions.append(accession)
        if len(accessions) > 1:
            raise self.error(
                "207",
                f"Results for samples {', '.join(accessions[:5])} in one message: Ajeya "
                "takes one sample per message.",
            )
        return accessions[0]


def _normalise(text: str) -> str:
    text = text.lstrip("\ufeff \t\r\n").replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(s for s in text.split("\r") if s.strip())


def read_oru(text: str) -> AnalyzerMessage:
    """One ORU^R01 as Ajeya stores it; HL7Error (and nothing else) for any problem."""
    if not isinstance(text, str):
        raise HL7Error(AckCode.REJECT, "102", "The message is not text.")
    header = read_header(text)
    reader = _Reader(text, header)
    reader.check_characters()
    body = _normalise(text)
    keys = reader.check_header(body.split("\r", 1)[0])
    accession, observations = reader.body(reader.segments(body))
    return AnalyzerMessage(
        sending_application=keys[3],
        sending_facility=keys[4],
        control_id=keys[10],
        accession=accession,
        observations=observations,
        raw=text,
        patient_id=getattr(reader, "patient_id", ""),
    )


# -- acknowledging -------------------------------------------------------------------


def escape(text: str) -> str:
    """Our own text made safe for a field: separators escaped, line breaks as spaces,
    control characters dropped."""
    text = " ".join(str(text).replace("\r", " ").replace("\n", " ").split())
    text = CONTROL_CHARACTER.sub("", SURROGATE.sub("", text))
    text = text.replace("\\", "\\E\\")
    for char, code in (("|", "F"), ("^", "S"), ("~", "R"), ("&", "T")):
        text = text.replace(char, f"\\{code}\\")
    return text


def _shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters without splitting an escape sequence."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    if cut.count("\\") % 2:
        cut = cut[: cut.rfind("\\")]
    return cut + "..."


def new_control_id() -> str:
    return "AJ" + uuid.uuid4().hex[:18].upper()


def build_ack(header: Header, ack_code: str, text: str = "", error_code: str = "", *,
              location: str = "") -> str:  # fmt: skip
    """An original-mode ACK^R01: MSH with sender and receiver swapped and the same
    version and processing id, MSA (code, the message's control id, text) and, for AE
    and AR, ERR (ERR-3 code^text^HL70357, ERR-4 severity E, ERR-8 the full text)."""
    version = header.version if VERSION.match(header.version) else ACK_VERSION
    processing = header.processing_id if header.processing_id in ("P", "T", "D") else "P"
    stamp = clock.local(clock.now()).strftime("%Y%m%d%H%M%S%z")
    msh = [
        "MSH",
        ENCODING_CHARACTERS,
        header.receiving_application or ACK_SENDER,
        header.receiving_facility,
        header.sending_application,
        header.sending_facility,
        stamp,
        "",
        "ACK^R01^ACK",
        new_control_id(),
        processing,
        version,
    ]
    body = escape(text)
    segments = [FIELD_SEPARATOR.join(msh)]
    msa = ["MSA", ack_code, header.control_id, _shorten(body, MSA_TEXT_LENGTH)]
    segments.append(FIELD_SEPARATOR.join(msa).rstrip(FIELD_SEPARATOR))
    if ack_code != AckCode.ACCEPT:
        code = error_code if error_code in ERROR_TEXT else "207"
        err = [
            "ERR",
            "",
            CONTROL_CHARACTER.sub("", location.replace("|", "")),
            f"{code}^{ERROR_TEXT[code]}^HL70357",
            "E",
            "",
            "",
            "",
            _shorten(body, ERR_TEXT_LENGTH),
        ]
        segments.append(FIELD_SEPARATOR.join(err).rstrip(FIELD_SEPARATOR))
    return "\r".join(segments) + "\r"
