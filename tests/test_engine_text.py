"""Stop sequences and UTF-8 reassembly, the parts of decoding that are easy to get wrong."""

from __future__ import annotations

from causerie.engine.text import StopMatcher, Utf8Assembler


def feed_all(matcher: StopMatcher, pieces: list[str]) -> str:
    return "".join(matcher.feed(p) for p in pieces) + matcher.flush()


def test_stop_split_across_pieces_never_leaks():
    matcher = StopMatcher(["</end>"])
    assert matcher.feed("hello </") == "hello "
    assert matcher.feed("en") == ""
    assert matcher.feed("d> ignored") == ""
    assert matcher.stopped


def test_partial_stop_prefix_is_released_when_it_does_not_complete():
    assert feed_all(StopMatcher(["STOP"]), ["ST", "ART here"]) == "START here"
    assert feed_all(StopMatcher(["STOP"]), ["end with ST"]) == "end with ST"


def test_earliest_of_several_stops_wins():
    assert feed_all(StopMatcher(["b", "a"]), ["xyzab"]) == "xyz"


def test_utf8_characters_split_across_tokens():
    data = "東京é".encode()
    assembler = Utf8Assembler()
    out = "".join(assembler.feed(data[i : i + 1]) for i in range(len(data))) + assembler.flush()
    assert out == "東京é"
    assert Utf8Assembler().feed(data[:2]) == ""  # an incomplete character is held back
