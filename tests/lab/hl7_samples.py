"""HL7 v2.5.1 ORU^R01 messages built from the standard's segment definitions, as the
laboratory's analyzers send them, and helpers to read an acknowledgement back."""

from __future__ import annotations

import socket

START, END = b"\x0b", b"\x1c\r"

CBC = [
    ("HGB", "NM", "13.2", "g/dL"),
    ("WBC", "NM", "7.4", "10*3/uL"),
    ("PLT", "NM", "250", "10*3/uL"),
]
GLUCOSE = [("GLUF", "NM", "92", "mg/dL")]


def msh(
    control_id: str = "MSG0001",
    *,
    sender: str = "XN-1000",
    facility: str = "LAB",
    message_type: str = "ORU^R01^ORU_R01",
    processing: str = "P",
    version: str = "2.5.1",
    encoding: str = "|^~\\&",
) -> str:
    fields = [
        sender,
        facility,
        "AJEYA",
        "HOSPITAL",
        "20261130083000+0530",
        "",
        message_type,
        control_id,
        processing,
        version,
    ]
    separator = encoding[0]
    return "MSH" + encoding + separator + separator.join(fields)


def pid(uhid: str = "100000001") -> str:
    return f"PID|1||{uhid}^^^AJEYA^MR||Kumar^Ravi||19800101|M"


def obr(accession: str, *, field: int = 3, set_id: int = 1) -> str:
    placer = accession if field == 2 else ""
    filler = f"{accession}^XN-1000" if field == 3 else ""
    return f"OBR|{set_id}|{placer}|{filler}|CBC^Complete blood count^L|||20261130081500"


def obx(
    set_id: int,
    code: str,
    value: str,
    unit: str = "",
    *,
    value_type: str = "NM",
    status: str = "F",
) -> str:
    return f"OBX|{set_id}|{value_type}|{code}^{code}^99XN||{value}|{unit}|||||{status}"


def oru(
    accession: str = "2600000018",
    results=CBC,
    *,
    control_id: str = "MSG0001",
    sender: str = "XN-1000",
    segments: list[str] | None = None,
    **header,
) -> str:
    """A whole message; `segments` replaces everything after MSH when given."""
    if segments is None:
        segments = [pid(), obr(accession)] + [
            obx(n, code, value, unit, value_type=kind)
            for n, (code, kind, value, unit) in enumerate(results, start=1)
        ]
    return "\r".join([msh(control_id, sender=sender, **header), *segments]) + "\r"


def frame(message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return START + data + END


def parse_ack(text: str) -> dict[str, list[str]]:
    """An ACK's segments by id, each as its list of fields (MSH-n at index n)."""
    out: dict[str, list[str]] = {}
    for segment in text.split("\r"):
        if not segment:
            continue
        fields = segment.split("|")
        if fields[0] == "MSH":
            fields = ["MSH", "|", *fields[1:]]
        assert fields[0] not in out, f"two {fields[0]} segments in {text!r}"
        out[fields[0]] = fields
    return out


class Client:
    """An analyzer's end of the connection: send frames, read acknowledgements back in
    order (several may arrive in one read)."""

    def __init__(self, address, timeout: float = 30.0) -> None:
        # The timeout only stops a broken test from hanging; nothing waits on it.
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, message: str | bytes, *, framed: bool = True) -> None:
        data = message.encode("utf-8") if isinstance(message, str) else message
        self.sock.sendall(frame(data) if framed else data)

    def frame(self) -> bytes | None:
        """The next frame's content; None when the listener closed the connection."""
        while END not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:  # closed with our bytes unread
                return None
            if not chunk:
                return None
            self.buffer += chunk
            assert len(self.buffer) < 1 << 20, "the acknowledgement never ended"
        end = self.buffer.index(END)
        data, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        assert data[:1] == START, f"bytes outside a frame: {data!r}"
        return data[1:]

    def ack(self) -> dict[str, list[str]]:
        data = self.frame()
        assert data is not None, "the listener closed the connection instead of answering"
        return parse_ack(data.decode("utf-8"))

    def exchange(self, message: str | bytes) -> dict[str, list[str]]:
        self.send(message)
        return self.ack()
