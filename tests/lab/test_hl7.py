"""Reading analyzers' ORU^R01 messages and acknowledging them: each class of problem
gets the acknowledgement HL7 v2.5.1 (original mode) prescribes, and no input makes
the reader raise anything but HL7Error."""

from __future__ import annotations

import itertools

import hl7 as python_hl7
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ajeya.lab import hl7
from ajeya.lab.listener import Framer, frame_bytes
from tests.lab import hl7_samples as s

ACCESSION = "2600000018"


def refused(text: str) -> hl7.HL7Error:
    with pytest.raises(hl7.HL7Error) as caught:
        hl7.read_oru(text)
    return caught.value


def ack_of(error: hl7.HL7Error) -> dict[str, list[str]]:
    return s.parse_ack(
        hl7.build_ack(
            error.header, error.ack, error.text, error.error_code, location=error.location
        )
    )


# -- reading a good message -----------------------------------------------------------


def test_a_cbc_is_read_field_by_field():
    message = hl7.read_oru(s.oru(ACCESSION, control_id="C-77"))
    assert message.sending_application == "XN-1000"
    assert message.sending_facility == "LAB"
    assert message.control_id == "C-77"
    assert message.accession == ACCESSION
    assert [(o.code, o.value, o.unit, o.status, o.set_id) for o in message.observations] == [
        ("HGB", "13.2", "g/dL", "F", "1"),
        ("WBC", "7.4", "10*3/uL", "F", "2"),
        ("PLT", "250", "10*3/uL", "F", "3"),
    ]
    assert message.raw == s.oru(ACCESSION, control_id="C-77")
    assert message.spooled is False


def test_header_fields_with_components_give_their_first_component():
    text = s.oru(sender="XN-1000^2.16.840.1.1^ISO").replace("|LAB|", "|LAB^Main lab|", 1)
    message = hl7.read_oru(text)
    assert (message.sending_application, message.sending_facility) == ("XN-1000", "LAB")


@pytest.mark.parametrize("terminator", ["\n", "\r\n", "\r\r"])
def test_lf_and_crlf_segment_ends_and_blank_lines_are_accepted(terminator):
    text = s.oru(ACCESSION).replace("\r", terminator)
    assert len(hl7.read_oru(text).observations) == 3


def test_accession_falls_back_to_placer_order_number_then_specimen_id():
    placer = s.oru(segments=[s.pid(), s.obr("2611111116", field=2), s.obx(1, "HGB", "9")])
    assert hl7.read_oru(placer).accession == "2611111116"
    specimen = [s.pid(), "OBR|1|||CBC", s.obx(1, "HGB", "9"), "SPM|1|2622222224&LAB^2633333332&XN"]
    assert hl7.read_oru(s.oru(segments=specimen)).accession == "2633333332"  # the filler's id
    placer_only = [s.pid(), "OBR|1|||CBC", s.obx(1, "HGB", "9"), "SPM|1|2622222224&LAB"]
    assert hl7.read_oru(s.oru(segments=placer_only)).accession == "2622222224"


def test_filler_order_number_wins_over_placer():
    text = s.oru(segments=[s.pid(), f"OBR|1|9999999999|{ACCESSION}^XN|CBC", s.obx(1, "HGB", "9")])
    assert hl7.read_oru(text).accession == ACCESSION


def test_several_obr_of_one_sample_are_one_message():
    segments = [s.pid(), s.obr(ACCESSION), s.obx(1, "HGB", "9"), s.obr(ACCESSION, set_id=2)]
    segments.append(s.obx(2, "PLT", "140"))
    assert [o.code for o in hl7.read_oru(s.oru(segments=segments)).observations] == ["HGB", "PLT"]


def test_escape_sequences_are_decoded_and_formatting_cannot_blow_up():
    segments = [
        s.pid(),
        s.obr(ACCESSION),
        s.obx(1, "NOTE", r"A\S\B\T\C\F\D\E\x\R\y", value_type="ST"),
        s.obx(2, "HEX", r"\X4F4B\ \XC2B5\L", value_type="ST"),
        s.obx(3, "BIG", "one\\.sp999999999\\two\\.in99\\three\\Zfoo\\ \\x", value_type="TX"),
    ]
    values = [o.value for o in hl7.read_oru(s.oru(segments=segments)).observations]
    assert values[0] == "A^B&C|D\\x~y"
    assert values[1] == "OK µL"
    assert values[2] == "one two three \\x"  # spacing commands are spacing; unknown dropped


def test_coded_and_structured_numeric_values():
    segments = [
        s.pid(),
        s.obr(ACCESSION),
        s.obx(1, "HBSAG", "R^Reactive^L", value_type="CWE"),
        s.obx(2, "CRP", "<^5", value_type="SN"),
        s.obx(3, "X", "NR", value_type="CE"),
    ]
    values = [o.value for o in hl7.read_oru(s.oru(segments=segments)).observations]
    assert values == ["Reactive", "<5", "NR"]


@pytest.mark.parametrize("status", ["X", "D", "W", "I", "N", "O"])
def test_observations_without_a_value_to_store_are_skipped(status):
    segments = [s.pid(), s.obr(ACCESSION), s.obx(1, "HGB", "", status=status)]
    segments.append(s.obx(2, "PLT", "250"))
    message = hl7.read_oru(s.oru(segments=segments))
    assert [o.code for o in message.observations] == ["PLT"]


@pytest.mark.parametrize(("status", "read"), [("", "F"), ("c", "C"), ("P", "P"), ("R", "R")])
def test_value_bearing_result_statuses_are_kept(status, read):
    segments = [s.pid(), s.obr(ACCESSION), s.obx(1, "HGB", "9", status=status)]
    assert hl7.read_oru(s.oru(segments=segments)).observations[0].status == read


def test_specimen_observations_after_spm_are_not_results():
    segments = [s.pid(), s.obr(ACCESSION), s.obx(1, "HGB", "9"), "SPM|1|"]
    segments += [s.obx(2, "HIL-H", "2"), s.obr(ACCESSION, set_id=2), s.obx(3, "PLT", "140")]
    assert [o.code for o in hl7.read_oru(s.oru(segments=segments)).observations] == ["HGB", "PLT"]


def test_older_versions_and_an_event_less_message_type_are_taken():
    assert hl7.read_oru(s.oru(version="2.3.1", message_type="ORU")).control_id == "MSG0001"
    assert hl7.read_oru(s.oru(version="2.8")).control_id == "MSG0001"


def test_training_messages_are_taken_when_the_listener_is_set_for_them(settings):
    settings.AJEYA_HL7_PROCESSING_ID = "T"
    assert hl7.read_oru(s.oru(processing="T")).control_id == "MSG0001"
    assert refused(s.oru(processing="P")).error_code == "202"


# -- refusals: AR for the header, AE for the content ------------------------------------

LONG = "C" * 61
NO_CONTROL_ID = s.oru(control_id="")

REJECTIONS = [
    ("not ORU", s.oru(message_type="ADT^A01^ADT_A01"), "200", "MSG0001"),
    ("ORU, other event", s.oru(message_type="ORU^R30^ORU_R30"), "201", "MSG0001"),
    ("training message", s.oru(processing="T"), "202", "MSG0001"),
    ("unknown processing id", s.oru(processing="Q"), "202", "MSG0001"),
    ("version 3", s.oru(version="3.0"), "203", "MSG0001"),
    ("version without minor", s.oru(version="2"), "203", "MSG0001"),
    ("no MSH", "PID|1||123\rOBR|1||2600000018\r", "100", ""),
    ("nothing at all", "", "100", ""),
    ("garbage", "hello, laboratory", "100", ""),
    ("wrong encoding characters", s.oru(encoding="|^~&\\"), "102", "MSG0001"),
    ("too few encoding characters", s.oru(encoding="|^~"), "102", "MSG0001"),
    ("other field separator", s.oru(encoding="#^~\\&"), "102", "MSG0001"),
    ("no control id", NO_CONTROL_ID, "101", ""),
    ("no sending application", s.oru(sender=""), "101", "MSG0001"),
    ("no message type", s.oru(message_type=""), "101", "MSG0001"),
    ("no version", s.oru(version=""), "101", "MSG0001"),
    ("control id too long", s.oru(control_id=LONG), "102", LONG),
    ("control character", s.oru().replace("13.2", "13\x002"), "102", "MSG0001"),
    ("MLLP end block inside", s.oru().replace("13.2", "13\x1c2"), "102", "MSG0001"),
    ("truncated MSH", "MSH|^~\\&|XN-1000", "101", ""),
]


@pytest.mark.parametrize(
    ("text", "code", "control_id"),
    [pytest.param(text, code, cid, id=name) for name, text, code, cid in REJECTIONS],
)
def test_header_problems_are_rejected_ar(text, code, control_id):
    error = refused(text)
    assert (error.ack, error.error_code, error.control_id) == ("AR", code, control_id)
    ack = ack_of(error)
    assert ack["MSA"][1:3] == ["AR", control_id]
    assert ack["ERR"][3] == f"{code}^{hl7.ERROR_TEXT[code]}^HL70357"
    assert ack["ERR"][4] == "E"


def test_non_utf8_bytes_are_rejected_with_the_control_id():
    data = s.oru().replace("13.2", "13.2 \xb5g").encode("latin-1")
    with pytest.raises(hl7.HL7Error) as caught:
        hl7.decode(data)
    error = caught.value
    assert (error.ack, error.error_code, error.control_id) == ("AR", "102", "MSG0001")
    assert "not UTF-8 (byte 0xB5" in error.text
    assert ack_of(error)["MSA"][1:3] == ["AR", "MSG0001"]


def test_utf8_with_a_byte_order_mark_is_read():
    data = ("\ufeff" + s.oru(ACCESSION)).encode()
    assert hl7.read_oru(hl7.decode(data)).control_id == "MSG0001"


def segments_of(*segments: str) -> str:
    return s.oru(segments=list(segments))


def after_obr(*segments: str) -> str:
    """A message whose PID and OBR are right, followed by `segments`."""
    return segments_of(s.pid(), s.obr(ACCESSION), *segments)


HGB = s.obx(1, "HGB", "9")
ERRORS = [
    ("no PID", segments_of(s.obr(ACCESSION), HGB), "101", ""),
    ("no OBR", segments_of(s.pid()), "101", ""),
    ("OBR before PID", segments_of(s.obr(ACCESSION), s.pid(), HGB), "100", "OBR^1"),
    ("OBX before OBR", segments_of(s.pid(), HGB, s.obr(ACCESSION)), "100", "OBX^1"),
    ("SPM before OBR", segments_of(s.pid(), "SPM|1|1", s.obr(ACCESSION)), "100", "SPM^1"),
    ("two patients", after_obr(s.pid("2")), "100", ""),
    ("lower-case segment id", after_obr("obx|1|NM|HGB||9"), "100", ""),
    ("segment id too long", after_obr("OBXX|1"), "100", ""),
    ("a second MSH", s.oru() + s.oru(), "100", ""),
    ("no accession", segments_of(s.pid(), "OBR|1|||CBC", HGB), "101", "OBR^1^3"),
    ("no OBX-3", after_obr("OBX|1|NM|||9"), "101", "OBX^1^3"),
    ("no OBX-5", after_obr(s.obx(1, "HGB", "")), "101", "OBX^1^5"),
    ("HL7 null OBX-5", after_obr(s.obx(1, "HGB", '""')), "101", "OBX^1^5"),
    ("status not in 0085", after_obr(s.obx(1, "HGB", "9", status="Z")), "103", "OBX^1^11"),
    ("escaped NUL in value", after_obr(s.obx(1, "HGB", r"9\X00\\")), "102", "OBX^1^5"),
    ("two samples", after_obr(s.obr("2611111116", set_id=2)), "207", ""),
]


@pytest.mark.parametrize(
    ("text", "code", "location"),
    [pytest.param(text, code, where, id=name) for name, text, code, where in ERRORS],
)
def test_content_problems_are_errors_ae(text, code, location):
    error = refused(text)
    assert (error.ack, error.error_code, error.location) == ("AE", code, location)
    assert error.control_id == "MSG0001"
    ack = ack_of(error)
    assert ack["MSA"][1:3] == ["AE", "MSG0001"]
    assert ack["ERR"][2:5] == [location, f"{code}^{hl7.ERROR_TEXT[code]}^HL70357", "E"]


# -- the acknowledgement, segment by segment -------------------------------------------


def test_an_accept_acknowledgement_segment_by_segment(monday_morning):
    header = hl7.read_header(s.oru(control_id="C-1"))
    text = hl7.build_ack(header, "AA", "3 result(s) stored.")
    assert text.endswith("\r")
    assert text.count("\r") == 2
    ack = s.parse_ack(text)
    assert list(ack) == ["MSH", "MSA"]
    msh = ack["MSH"]
    assert msh[1:7] == ["|", "^~\\&", "AJEYA", "HOSPITAL", "XN-1000", "LAB"]  # swapped
    assert msh[7] == "20261130080000+0530"
    assert msh[8] == ""
    assert msh[9] == "ACK^R01^ACK"
    assert msh[10].startswith("AJ")
    assert len(msh[10]) == 20
    assert msh[10] != hl7.read_header(hl7.build_ack(header, "AA")).control_id
    assert msh[11:] == ["P", "2.5.1"]
    assert ack["MSA"] == ["MSA", "AA", "C-1", "3 result(s) stored."]


def test_acknowledgements_keep_the_version_and_processing_id(settings):
    settings.AJEYA_HL7_PROCESSING_ID = "T"
    header = hl7.read_header(s.oru(version="2.3.1", processing="T"))
    assert s.parse_ack(hl7.build_ack(header, "AA"))["MSH"][11:] == ["T", "2.3.1"]
    unsupported = refused(s.oru(version="3.0"))
    assert ack_of(unsupported)["MSH"][11:] == ["P", "2.5.1"]


def test_an_error_acknowledgement_segment_by_segment():
    error = refused(segments_of(s.pid(), s.obr(ACCESSION), s.obx(1, "HGB", "")))
    ack = ack_of(error)
    assert list(ack) == ["MSH", "MSA", "ERR"]
    assert ack["MSA"] == ["MSA", "AE", "MSG0001", "OBX 1 (HGB): OBX-5 observation value is empty."]
    assert ack["ERR"] == [
        "ERR",
        "",
        "OBX^1^5",
        "101^Required field missing^HL70357",
        "E",
        "",
        "",
        "",
        "OBX 1 (HGB): OBX-5 observation value is empty.",
    ]


def test_an_unreadable_control_id_leaves_msa_2_empty():
    ack = ack_of(refused("garbage"))
    assert ack["MSA"][1:3] == ["AR", ""]
    assert ack["MSH"][3:7] == ["AJEYA", "", "", ""]


def test_the_text_is_escaped_and_msa_3_is_cut_to_80_characters():
    text = "Value 5|6 for A^B & C~D \\ " + "x" * 100
    ack = s.parse_ack(hl7.build_ack(hl7.Header(control_id="C"), "AE", text, "102"))
    assert ack["MSA"][3].startswith("Value 5\\F\\6 for A\\S\\B \\T\\ C\\R\\D \\E\\ x")
    assert len(ack["MSA"][3]) <= 80
    assert ack["MSA"][3].endswith("...")
    assert ack["ERR"][8] == hl7.escape(text)
    assert python_hl7.parse(hl7.build_ack(hl7.Header(control_id="C"), "AE", text, "102")).unescape(
        ack["ERR"][8]
    ) == " ".join(text.split())


def test_msa_3_is_never_cut_inside_an_escape_sequence():
    text = "y" * 75 + "^^^^^^"
    msa = s.parse_ack(hl7.build_ack(hl7.Header(), "AE", text, "102"))["MSA"][3]
    assert msa.endswith("...")
    assert msa[:-3].count("\\") % 2 == 0


def test_an_unknown_error_code_is_sent_as_207():
    ack = s.parse_ack(hl7.build_ack(hl7.Header(), "AE", "odd", "999"))
    assert ack["ERR"][3] == "207^Application internal error^HL70357"


def test_header_fields_echoed_cannot_break_the_frame():
    text = "MSH|^~\\&|XN\x1c\x0b-1000|LAB|AJEYA|H|||ORU^R01|C\x1c1|P|2.5.1\rPID|1"
    ack = hl7.build_ack(hl7.read_header(text), "AR", "no", "102")
    assert "\x1c" not in ack
    assert "\x0b" not in ack
    assert s.parse_ack(ack)["MSA"][2] == "C1"


def test_header_of_a_message_with_other_separators_is_escaped_in_the_ack():
    text = "MSH#!@$%#XN|1000#LAB#AJEYA#H###ORU!R01#C^1#P#2.5.1\r"
    error = refused(text)
    assert error.error_code == "102"
    ack = ack_of(error)
    assert ack["MSA"][2] == "C\\S\\1"
    assert ack["MSH"][5] == "XN\\F\\1000"


# -- fuzzing the boundary ---------------------------------------------------------------

HL7ISH = st.text(alphabet="MSHPIDOBRXN|^~\\&\r\n 0123456789.-#\x00\x1c\x0bé", max_size=300)


def mutated(draw_text: str, cut: int, insert: str) -> str:
    cut = cut % (len(draw_text) + 1)
    return draw_text[:cut] + insert + draw_text[cut:]


def read_or_refuse(text: str):
    """(message, None) or (None, the HL7Error): anything else raised fails the test."""
    try:
        return hl7.read_oru(text), None
    except hl7.HL7Error as error:
        return None, error


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400), HL7ISH, st.builds(lambda t: "MSH|^~\\&|" + t, HL7ISH)))
def test_any_text_is_read_or_refused_with_hl7error(text):
    message, error = read_or_refuse(text)
    if error is None:
        assert message.control_id
        assert message.accession
        return
    assert error.ack in ("AE", "AR")
    assert error.error_code in hl7.ERROR_TEXT
    assert ack_of(error)["MSA"][1] == error.ack


@hsettings(max_examples=150, deadline=None)
@given(st.integers(min_value=0), st.text(alphabet="|^~\\&\r\n\x00OBXPID0129", max_size=12))
def test_a_good_message_mutated_anywhere_is_read_or_refused(cut, insert):
    message, error = read_or_refuse(mutated(s.oru(ACCESSION), cut, insert))
    assert (message is None) != (error is None)
    if error is not None:
        assert error.ack in ("AE", "AR")


@hsettings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_decoded_or_refused(data):
    try:
        text, error = hl7.decode(data), None
    except hl7.HL7Error as refusal:
        text, error = None, refusal
    if error is not None:
        assert (error.ack, error.error_code) == ("AR", "102")
        return
    read_or_refuse(text)


@hsettings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["AA", "AE", "AR"]), st.text(max_size=200))
def test_every_acknowledgement_is_well_formed(message, code, text):
    ack = hl7.build_ack(hl7.read_header("MSH|^~\\&|" + message), code, text, "101")
    assert "\x0b" not in ack
    assert "\x1c" not in ack
    parsed = s.parse_ack(ack)
    assert list(parsed) == (["MSH", "MSA"] if code == "AA" else ["MSH", "MSA", "ERR"])
    assert parsed["MSA"][1] == code
    assert python_hl7.parse(ack).segment("MSA")[1][0] == code


# -- MLLP framing ---------------------------------------------------------------------

CONTENT = st.binary(max_size=300).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))
GARBAGE = st.binary(max_size=40).map(lambda b: b.replace(b"\x0b", b""))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@hsettings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(GARBAGE, CONTENT), max_size=6),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_framing_finds_every_frame_however_the_bytes_are_split(frames, cuts):
    stream = b"".join(garbage + s.frame(content) for garbage, content in frames)
    framer = Framer(max_bytes=200)
    found = [f for chunk in chunked(stream, cuts) for f in framer.feed(chunk)]
    assert framer.close() is None
    assert [f.complete for f in found] == [True] * len(frames)
    for frame, (_, content) in zip(found, frames, strict=True):
        assert frame.size == len(content)
        if len(content) > 200:
            assert frame.oversize
            assert frame.data == b""
            assert frame.head == content[:1024]
        else:
            assert not frame.oversize
            assert frame.data == content
    assert framer.skipped == sum(len(g) for g, _ in frames)


@hsettings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=20))
def test_framing_never_raises_on_any_bytes(data, cuts):
    framer = Framer(max_bytes=100)
    found = [f for chunk in chunked(data, cuts) for f in framer.feed(chunk)]
    last = framer.close()
    for frame in [*found, *([last] if last else [])]:
        assert len(frame.data) <= 100
        assert b"\x0b" not in frame.data
        assert len(frame.head) <= 1024


def test_a_frame_cut_off_or_abandoned_comes_back_incomplete():
    framer = Framer(max_bytes=1000)
    found = framer.feed(b"\x0bMSH|first\x0bMSH|second\x1c\r\x0bMSH|third\x1c")
    assert [(f.data, f.complete) for f in found] == [(b"MSH|first", False), (b"MSH|second", True)]
    assert "new start block" in found[0].reason
    last = framer.close()
    assert (last.data, last.complete) == (b"MSH|third\x1c", False)


def test_an_oversize_frame_keeps_only_its_head_and_the_stream_goes_on():
    framer = Framer(max_bytes=4096)
    big = b"MSH|^~\\&|XN|L|A|H|||ORU^R01|BIG1|P|2.5.1\r" + b"X" * 50_000
    stream = s.frame(big) + s.frame(b"MSH|next")
    found = [
        f
        for chunk in chunked(stream, list(range(0, len(stream), 1000)))
        for f in framer.feed(chunk)
    ]
    assert [f.oversize for f in found] == [True, False]
    assert found[0].size == len(big)
    assert found[0].head == big[:1024]
    assert found[1].data == b"MSH|next"


def test_frame_bytes_wraps_utf8_text():
    assert frame_bytes("MSA|AA|µ") == b"\x0bMSA|AA|\xc2\xb5\x1c\r"


# -- the split, held to python-hl7's --------------------------------------------------------

FIELD_TEXT = st.text(alphabet="AB12 .-^~&\\é", max_size=12)  # all but bars and CR


@hsettings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["PID", "OBR", "OBX", "NTE", "SPM", "ZZ1"]),
            st.lists(FIELD_TEXT, max_size=8),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_segments_and_fields_are_split_as_python_hl7_splits_them(segments):
    """ADR 0013: the reader splits fields itself (python-hl7's tree of containers was
    70% of reading a message); the maintained parser is the reference it must match."""
    body = "\r".join(
        [s.msh("SPLIT"), *("|".join([sid, *fields]) for sid, fields in segments)]
    ).rstrip()  # python-hl7 drops the message's trailing blanks; `clean` drops them too
    ours = hl7._Reader(body, hl7.Header()).segments(body)
    theirs = [[str(f) for f in segment] for segment in python_hl7.parse(body)]
    assert [sid for sid, _ in ours] == [fields[0] for fields in theirs]
    assert [fields for _, fields in ours[1:]] == theirs[1:]  # MSH-1 is the bar itself
