from __future__ import annotations

import pytest

from agentcore_wire.sse import SseDecoder


def _decode(*chunks: bytes) -> list[bytes]:
    decoder = SseDecoder()
    events = [data for chunk in chunks for data in decoder.feed(chunk)]
    return events + list(decoder.close())


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_any_line_ending_frames_events(end: bytes) -> None:
    stream = b"event: message" + end + b'data: {"a":1}' + end + end + b"data: 2" + end + end
    assert _decode(stream) == [b'{"a":1}', b"2"]


def test_event_is_dispatched_as_soon_as_its_blank_line_arrives() -> None:
    decoder = SseDecoder()
    assert list(decoder.feed(b"data: one\n")) == []
    assert list(decoder.feed(b"\n")) == [b"one"]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert _decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == [b"a", b"b"]


def test_multiline_data_is_joined_with_lf() -> None:
    assert _decode(b'data: {\ndata: "a": 1}\n\n') == [b'{\n"a": 1}']


def test_comments_pings_and_other_fields_are_ignored() -> None:
    stream = b": ping - 2026\n\nid: 7\nretry: 100\nevent: message\ndata:x\n\n"
    assert _decode(stream) == [b"x"]


def test_unterminated_last_event_is_dispatched_at_close() -> None:
    assert _decode(b"data: last") == [b"last"]


def test_byte_at_a_time_gives_the_same_events() -> None:
    stream = b'event: message\r\ndata: {"k": "\xc3\xa9"}\r\n\r\ndata: 2\r\n\r\n'
    assert _decode(*(stream[i : i + 1] for i in range(len(stream)))) == _decode(stream)


def test_the_priming_event_of_2025_11_25_servers_dispatches_nothing() -> None:
    # id, retry and an empty data line open each stream: not a message, not a warning.
    stream = b"id: 0\r\nretry: 1000\r\ndata:\r\n\r\n" + b'data: {"jsonrpc":"2.0"}\r\n\r\n'
    assert _decode(stream) == [b'{"jsonrpc":"2.0"}']
