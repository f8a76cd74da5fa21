"""License key format (SPEC R10): generation, normalisation, typo detection."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis_licensing._keys import (
    ALPHABET,
    FORMATTED_LENGTH,
    KEY_SYMBOLS,
    RANDOM_BITS,
    RANDOM_BYTES,
    format_key,
    generate_key,
    key_hash,
    key_tail,
    normalize_key,
)
from axis_licensing.errors import InvalidInput, KeyTypo

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FORMATTED = re.compile(r"[0-9A-HJKMNP-TV-Z]{6}(-[0-9A-HJKMNP-TV-Z]{6}){3}")
# generate_key(sha256(b"example")[:14]); its tail is "SH2Q".
EXAMPLE = "A3C5HR-4RBV67-YR21HA-QGSH2Q"
EXAMPLE_NORMALIZED = EXAMPLE.replace("-", "")

random_bytes = st.binary(min_size=RANDOM_BYTES, max_size=RANDOM_BYTES)


def as_number(symbols: str) -> int:
    """Read symbols as base 32, independently of the module under test."""
    return int("".join(f"{CROCKFORD.index(s):05b}" for s in symbols), 2)


def bytes_for(data_symbols: str) -> bytes:
    """Random bytes that make generate_key produce exactly these 22 data symbols."""
    assert len(data_symbols) == 22
    return (as_number(data_symbols) << 2).to_bytes(RANDOM_BYTES, "big")


def format_key_unchecked(symbols: str) -> str:
    """Dash-group symbols without checking them, as a user would type a typo."""
    return "-".join(symbols[i : i + 6] for i in range(0, len(symbols), 6))


def windows(text: str, size: int) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def test_r10_alphabet_is_crockford_base32() -> None:
    assert ALPHABET == CROCKFORD


def test_r10_generated_key_shape() -> None:
    key = generate_key()
    assert len(key) == FORMATTED_LENGTH == 27
    assert len(key) <= 40
    assert FORMATTED.fullmatch(key) is not None
    assert set(key) <= set(CROCKFORD) | {"-"}
    assert KEY_SYMBOLS == 24


def test_r10_at_least_100_random_bits() -> None:
    assert RANDOM_BITS == 110
    assert RANDOM_BITS >= 100
    assert RANDOM_BYTES * 8 >= RANDOM_BITS
    first, second = generate_key(), generate_key()
    assert first != second


def test_r10_known_keys() -> None:
    assert generate_key(hashlib.sha256(b"example").digest()[:RANDOM_BYTES]) == EXAMPLE
    assert generate_key(bytes(RANDOM_BYTES)) == "000000-000000-000000-000000"


@given(random_bytes)
def test_r10_data_symbols_are_the_random_bits(raw: bytes) -> None:
    key = generate_key(raw).replace("-", "")
    bits = "".join(f"{byte:08b}" for byte in raw)[:RANDOM_BITS]
    expected = "".join(CROCKFORD[int(bits[i : i + 5], 2)] for i in range(0, RANDOM_BITS, 5))
    assert key[:22] == expected


@given(random_bytes)
def test_r10_key_is_multiple_of_1021_and_round_trips(raw: bytes) -> None:
    key = generate_key(raw)
    normalized = normalize_key(key)
    assert normalized == key.replace("-", "")
    assert len(normalized) == KEY_SYMBOLS
    assert as_number(normalized) % 1021 == 0
    assert as_number(normalized[-2:]) < 1021
    assert format_key(normalized) == key
    assert normalize_key(normalized) == normalized


def test_r10_generate_key_rejects_wrong_random_bytes() -> None:
    with pytest.raises(InvalidInput, match="exactly 14 bytes"):
        generate_key(bytes(RANDOM_BYTES - 1))
    with pytest.raises(InvalidInput, match="exactly 14 bytes"):
        generate_key(bytes(RANDOM_BYTES + 1))
    with pytest.raises(InvalidInput, match="exactly 14 bytes"):
        generate_key(bytearray(RANDOM_BYTES))  # type: ignore[arg-type]


def test_r10_normalisation_of_case_spaces_dashes_and_look_alikes() -> None:
    key = generate_key(bytes_for("0123456789ABCDEFGH0110"))
    normalized = key.replace("-", "")
    assert normalized.startswith("0123456789ABCDEFGH0110")
    assert normalize_key(key) == normalized
    assert normalize_key(key.lower()) == normalized
    assert normalize_key(normalized) == normalized  # no dashes at all
    assert normalize_key(f"  {key.replace('-', ' - ')}\t\n") == normalized
    assert normalize_key("--" + "-".join(normalized) + "--") == normalized  # extra dashes
    assert normalize_key(key.replace("-", "\u2013")) == normalized  # pasted en dashes
    typed = key.lower().replace("1", "l", 1).replace("1", "I", 1).replace("1", "i")
    typed = typed.replace("0", "o", 1).replace("0", "O")
    assert "1" not in typed
    assert "0" not in typed
    assert normalize_key(typed) == normalized
    assert normalize_key(typed.replace("-", " ")) == normalized


@settings(max_examples=40, deadline=None)
@given(random_bytes)
def test_r10_every_substitution_and_adjacent_transposition_is_caught(raw: bytes) -> None:
    key = normalize_key(generate_key(raw))
    substitutions = 0
    for position, original in enumerate(key):
        for symbol in CROCKFORD:
            if symbol == original:
                continue
            typo = key[:position] + symbol + key[position + 1 :]
            with pytest.raises(KeyTypo, match="looks mistyped"):
                normalize_key(typo)
            substitutions += 1
    assert substitutions == KEY_SYMBOLS * 31
    for position in range(KEY_SYMBOLS - 1):
        left, right = key[position], key[position + 1]
        if left == right:
            continue
        typo = key[:position] + right + left + key[position + 2 :]
        with pytest.raises(KeyTypo, match="looks mistyped"):
            normalize_key(format_key_unchecked(typo))


def test_r10_check_values_above_1020_are_rejected() -> None:
    assert normalize_key("0" * 24) == "0" * 24
    assert as_number("0" * 22 + "ZX") == 1021
    with pytest.raises(KeyTypo, match="looks mistyped"):
        normalize_key("0" * 22 + "ZX")


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE_NORMALIZED[:-1],
        EXAMPLE_NORMALIZED + "0",
        EXAMPLE_NORMALIZED[:12],
        EXAMPLE + "-A3C5HR",
        "0",
    ],
)
def test_r10_wrong_length_is_a_typo(text: str) -> None:
    symbols = len(text.replace("-", ""))
    with pytest.raises(KeyTypo) as info:
        normalize_key(text)
    assert str(info.value) == (
        f"license key looks mistyped: it has {symbols} symbols, a license key has 24"
    )


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        (EXAMPLE.replace("A", "U", 1), "U"),
        (EXAMPLE.lower().replace("a", "u", 1), "u"),
        (EXAMPLE.replace("-", "_"), "_"),
        (EXAMPLE.replace("-", "."), "."),
        (EXAMPLE + "!", "!"),
        (EXAMPLE.replace("1", "\u0131"), "\u0131"),  # dotless i upper-cases to I
        (EXAMPLE.replace("2", "\uff12"), "\uff12"),  # full-width digit two
    ],
)
def test_r10_bad_characters_are_a_typo(text: str, bad: str) -> None:
    with pytest.raises(KeyTypo) as info:
        normalize_key(text)
    assert str(info.value) == (
        f"license key looks mistyped: it contains {bad!r}, which is not used in license keys"
    )


def test_r10_failed_check_message() -> None:
    typo = "B" + EXAMPLE_NORMALIZED[1:]
    with pytest.raises(KeyTypo) as info:
        normalize_key(typo)
    assert str(info.value) == (
        "license key looks mistyped: the key ending SH2Q fails its check "
        "(a symbol is wrong or two are swapped)"
    )


@pytest.mark.parametrize("value", [None, 42, b"A3C5HR4RBV67YR21HAQGSH2Q", ["A3C5HR"]])
def test_r10_non_string_is_invalid_input(value: object) -> None:
    with pytest.raises(InvalidInput, match="license key must be a string") as info:
        normalize_key(value)
    assert type(info.value) is InvalidInput


@pytest.mark.parametrize("text", ["", "   ", "- - -", "\t\n"])
def test_r10_empty_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_key(text)
    assert type(info.value) is InvalidInput
    assert str(info.value) == "license key is empty"


def test_r10_over_200_characters_is_invalid_input() -> None:
    assert normalize_key(EXAMPLE + " " * (200 - len(EXAMPLE))) == EXAMPLE_NORMALIZED
    with pytest.raises(InvalidInput) as info:
        normalize_key(EXAMPLE + " " * (201 - len(EXAMPLE)))
    assert type(info.value) is InvalidInput
    assert str(info.value) == "license key is too long (201 characters, at most 200)"


def test_r10_key_typo_is_invalid_input_and_value_error() -> None:
    assert issubclass(KeyTypo, InvalidInput)
    assert issubclass(KeyTypo, ValueError)
    with pytest.raises(ValueError, match="looks mistyped"):
        normalize_key("U" * 24)


@pytest.mark.parametrize(
    "typo",
    [
        "B" + EXAMPLE_NORMALIZED[1:],  # substitution
        EXAMPLE_NORMALIZED[1] + EXAMPLE_NORMALIZED[0] + EXAMPLE_NORMALIZED[2:],  # swap
        EXAMPLE_NORMALIZED[:-1],  # too short
        EXAMPLE + "7",  # too long
        EXAMPLE.replace("Y", "U"),  # bad character
    ],
)
def test_r10_messages_show_at_most_the_last_4_symbols(typo: str) -> None:
    with pytest.raises(KeyTypo) as info:
        normalize_key(typo)
    message = str(info.value)
    assert EXAMPLE not in message
    assert EXAMPLE_NORMALIZED not in message
    typed = typo.replace("-", "")
    assert not windows(typed, 5) & windows(message, 5)
    assert not windows(EXAMPLE_NORMALIZED, 5) & windows(message, 5)


def test_r10_key_hash_is_domain_separated_sha256() -> None:
    digest = key_hash(EXAMPLE_NORMALIZED)
    assert re.fullmatch(r"[0-9a-f]{64}", digest) is not None
    assert digest == key_hash(normalize_key(EXAMPLE.lower()))
    assert (
        digest
        == hashlib.sha256(b"axis-licensing/key/v1:" + EXAMPLE_NORMALIZED.encode()).hexdigest()
    )
    assert digest != hashlib.sha256(EXAMPLE_NORMALIZED.encode()).hexdigest()
    assert digest != key_hash("0" * 24)


def test_r10_key_tail_is_last_4_symbols() -> None:
    assert key_tail(EXAMPLE_NORMALIZED) == "SH2Q"
    assert key_tail("0" * 24) == "0000"


@pytest.mark.parametrize(
    "value",
    [
        EXAMPLE,  # formatted, not normalized
        EXAMPLE_NORMALIZED.lower(),
        EXAMPLE_NORMALIZED[:-1],
        "B" + EXAMPLE_NORMALIZED[1:],  # fails its check
        42,
    ],
)
def test_r10_format_and_hash_need_a_normalized_key(value: object) -> None:
    with pytest.raises(InvalidInput, match="expected a normalized license key"):
        format_key(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="expected a normalized license key"):
        key_hash(value)  # type: ignore[arg-type]


def test_r10_key_tail_names_a_mistyped_key_but_not_other_text() -> None:
    assert key_tail("B" + EXAMPLE_NORMALIZED[1:]) == "SH2Q"
    with pytest.raises(InvalidInput, match="expected a normalized license key"):
        key_tail(EXAMPLE)
    with pytest.raises(InvalidInput, match="expected a normalized license key"):
        key_tail("SH2Q")
