"""Cell value parsers: clean values out, short reasons in ValueError."""

import time

import pytest

from crm_tui.domain.values import clean_text, format_utc, option_parser, parse_bool, parse_currency, parse_date, parse_datetime, parse_domain, parse_email, parse_number, parse_phone, parse_url


@pytest.mark.parametrize("text, expected", [
    ("1.0", 1.0),
    ("42", 42),
    (" 42 ", 42),
    ("-7", -7),
    ("+3.25", 3.25),
    ("1,234.50", 1234.5),
    ("1,234,567", 1234567),
    ("1 234 567", 1234567),
    ("1\u00a0234.5", 1234.5),
    ("1'234.5", 1234.5),
    (".5", 0.5),
    ("1e3", 1000.0),
    ("\u22125", -5),
])
def test_numbers(text, expected):
    value = parse_number(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text, expected", [
    ("1.234,50", 1234.5),
    ("1,5", 1.5),
    ("-0,25", -0.25),
    ("1 234,5", 1234.5),
    ("1.234.567", 1234567),
    ("12", 12),
])
def test_numbers_with_decimal_comma(text, expected):
    assert parse_number(text, decimal_comma=True) == expected


@pytest.mark.parametrize("text, expected", [
    ("$1,200", 1200),
    ("$1,200.50", 1200.5),
    ("-$5", -5),
    ("$-5", -5),
    ("(1,200.00)", -1200.0),
    ("US$ 3.5", 3.5),
    ("EUR 10", 10),
    ("10 USD", 10),
    ("£7", 7),
])
def test_currency(text, expected):
    assert parse_currency(text) == expected


def test_currency_with_decimal_comma():
    assert parse_currency("1.200,50 €", decimal_comma=True) == 1200.5


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("abc", "not a number"),
    ("--5", "not a number"),
    ("1,23", "decimal comma"),
    ("12,5", "decimal comma"),
    ("1,2345", "decimal comma"),
    ("1,2,3", "not a number"),
    ("$5", "currency"),
    ("1e999", "too large"),
    ("5.", "not a number"),
])
def test_bad_numbers(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_number(text)


def test_decimal_point_in_comma_mode_is_explained():
    with pytest.raises(ValueError, match="decimal point"):
        parse_number("1.5", decimal_comma=True)


@pytest.mark.parametrize("text, expected", [
    ("2026-02-25", "2026-02-25"),
    ("2026-02-25 22:36", "2026-02-25"),
    ("2026-02-25T22:36:00Z", "2026-02-25"),
    ("2026-02-25T22:36:00.000000Z", "2026-02-25"),
    ("2002/1/16", "2002-01-16"),
    ("2002.01.16", "2002-01-16"),
    ("01/16/2002", "2002-01-16"),
    ("1-16-2002", "2002-01-16"),
    ("16 Jan 2002", "2002-01-16"),
    ("16-Jan-2002", "2002-01-16"),
    ("16 January, 2002", "2002-01-16"),
    ("Jan 16, 2002", "2002-01-16"),
    ("January 16th, 2002", "2002-01-16"),
    ("Sept 3 2002", "2002-09-03"),
    ("Wed, 16 Jan 2002", "2002-01-16"),
    ("20020116", "2002-01-16"),
    (" 2024-02-29 ", "2024-02-29"),
])
def test_dates(text, expected):
    assert parse_date(text) == expected


def test_two_digit_years_as_spreadsheets_write_them():
    assert parse_date("2/20/24") == "2024-02-20"
    assert parse_date("1/16/02") == "2002-01-16"
    assert parse_date("31/12/99", dayfirst=True) == "1999-12-31"
    assert parse_datetime("5/7/24 10:26") == "2024-05-07T10:26:00.000000Z"
    assert parse_datetime("4/8/2025 17:19") == "2025-04-08T17:19:00.000000Z"
    assert parse_date("11 Jun 2021") == "2021-06-11"


def test_day_first_dates():
    assert parse_date("16/01/2002", dayfirst=True) == "2002-01-16"
    assert parse_date("01/02/2002", dayfirst=True) == "2002-02-01"
    assert parse_date("01/02/2002") == "2002-01-02"
    assert parse_date("16.01.2002", dayfirst=True) == "2002-01-16"


@pytest.mark.parametrize("text, dayfirst, reason", [
    ("16/01/2002", False, "day first"),
    ("01/16/2002", True, "month first"),
    ("2002-02-30", False, "no such date"),
    ("2023-02-29", False, "no such date"),
    ("16/1/02", False, "day first"),
    ("yesterday", False, "not a date"),
    ("", False, "empty"),
    ("Janx 16, 2002", False, "not a date"),
    ("2026-02-25 25:00", False, "no such time"),
])
def test_bad_dates(text, dayfirst, reason):
    with pytest.raises(ValueError, match=reason):
        parse_date(text, dayfirst=dayfirst)


@pytest.mark.parametrize("text, expected", [
    ("2026-02-25 22:36", "2026-02-25T22:36:00.000000Z"),
    ("2026-02-25T22:36:00Z", "2026-02-25T22:36:00.000000Z"),
    ("2026-02-25T22:36:00.5Z", "2026-02-25T22:36:00.500000Z"),
    ("2026-02-25T22:36:00.123456789Z", "2026-02-25T22:36:00.123456Z"),
    ("2026-02-25T23:30:00-05:00", "2026-02-26T04:30:00.000000Z"),
    ("2026-02-25T01:00:00+0200", "2026-02-24T23:00:00.000000Z"),
    ("2026-02-25 22:36 UTC", "2026-02-25T22:36:00.000000Z"),
    ("2026-02-25", "2026-02-25T00:00:00.000000Z"),
    ("Jan 16, 2002 3:45 PM", "2002-01-16T15:45:00.000000Z"),
    ("Jan 16, 2002 12:05 am", "2002-01-16T00:05:00.000000Z"),
    ("Wed, 16 Jan 2002 10:00:00 +0100", "2002-01-16T09:00:00.000000Z"),
    ("01/16/2002 08:00", "2002-01-16T08:00:00.000000Z"),
])
def test_datetimes(text, expected):
    assert parse_datetime(text) == expected


def test_datetime_day_first_and_errors():
    assert parse_datetime("16/01/2002 08:00", dayfirst=True) == "2002-01-16T08:00:00.000000Z"
    with pytest.raises(ValueError, match="AM/PM"):
        parse_datetime("2002-01-16 13:00 PM")
    with pytest.raises(ValueError, match="no such time"):
        parse_datetime("2002-01-16 10:61")
    with pytest.raises(ValueError, match="not a date"):
        parse_datetime("10:00")


def test_stored_datetime_parses_back_to_itself():
    stored = parse_datetime("2026-02-25T23:30:00-05:00")
    assert parse_datetime(stored) == stored
    assert parse_date(stored) == "2026-02-26"


def test_format_utc():
    from datetime import datetime, timedelta, timezone
    assert format_utc(datetime(2026, 2, 25, 22, 36)) == "2026-02-25T22:36:00.000000Z"
    paris = timezone(timedelta(hours=1))
    assert format_utc(datetime(2026, 2, 25, 22, 36, tzinfo=paris)) == "2026-02-25T21:36:00.000000Z"


@pytest.mark.parametrize("text", ["true", "TRUE", "Yes", "y", "1", " yes "])
def test_true(text):
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["false", "False", "NO", "n", "0"])
def test_false(text):
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "maybe", "2", "ja"])
def test_bad_booleans(text):
    with pytest.raises(ValueError, match="yes/no"):
        parse_bool(text)


@pytest.mark.parametrize("text, expected", [
    ("john@example.com", "john@example.com"),
    (" John.Doe@Example.COM ", "John.Doe@example.com"),
    ("mailto:a@b.io", "a@b.io"),
    ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("jose@bücher.de", "jose@bücher.de"),
])
def test_emails(text, expected):
    assert parse_email(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("john", "no @"),
    ("john@", "not a domain name"),
    ("@example.com", "not a valid email"),
    ("a@b@example.com", "more than one @"),
    ("john doe@example.com", "no spaces"),
    ("john..doe@example.com", "not a valid email"),
    ("john@example", "no dot"),
    ("john@-example.com", "not a valid domain"),
    ("john@example.c0m", "not a valid domain"),
])
def test_bad_emails(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_email(text)


@pytest.mark.parametrize("text, expected", [
    ("example.com", "https://example.com"),
    ("www.example.com/about", "https://www.example.com/about"),
    ("HTTP://Example.COM/Path?q=1#top", "http://example.com/Path?q=1#top"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("example.com:8080", "https://example.com:8080"),
    ("http://192.168.0.1/admin", "http://192.168.0.1/admin"),
])
def test_urls(text, expected):
    assert parse_url(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("javascript:alert(1)", "only http"),
    ("JAVASCRIPT://%0aalert(1)", "only http"),
    ("data:text/html,<script>", "only http"),
    ("ftp://example.com", "only http"),
    ("https://user:pw@example.com", "user name"),
    ("https://exa mple.com", "no spaces"),
    ("https://", "no host"),
    ("localhost", "no dot"),
    ("", "empty"),
])
def test_bad_urls(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_url(text)


@pytest.mark.parametrize("text, expected", [
    ("example.com", "example.com"),
    ("https://www.Example.com/about", "example.com"),
    ("http://shop.example.co.uk:8080/?x", "shop.example.co.uk"),
    ("WWW.EXAMPLE.COM.", "example.com"),
    ("www.com", "www.com"),
    ("example.com#top", "example.com"),
])
def test_domains(text, expected):
    assert parse_domain(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("john@example.com", "email address"),
    ("example", "no dot"),
    ("exa_mple.com", "not a valid domain"),
    ("192.168.0.1", "not a valid domain"),
    ("", "empty"),
])
def test_bad_domains(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_domain(text)


@pytest.mark.parametrize("text, expected", [
    ("+1 (555) 123-4567", "+1 (555) 123-4567"),
    ("  +33\u00a01 23  45 67 89 ", "+33 1 23 45 67 89"),
    ("( 555 ) 123 - 4567", "(555) 123-4567"),
    ("tel:+1-418-656-9254;ext=102", "+1-418-656-9254 ext. 102"),
    ("'+44 20 7946 0958", "+44 20 7946 0958"),
    ("1-800-FLOWERS", "1-800-FLOWERS"),
    ("555.123.4567 x12", "555.123.4567 x12"),
])
def test_phones(text, expected):
    assert parse_phone(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("N/A", "too few digits"),
    ("BusinessPhone", "too few digits"),
    ("john@example.com", "cannot have"),
    ("555<script>", "cannot have"),
])
def test_bad_phones(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_phone(text)


def test_option_parser_takes_names_and_labels():
    stage = option_parser([("closedwon", "Closed won"), ("closedlost", "Closed lost"), ("qualified", "Qualified")])
    assert stage("Closed won") == "closedwon"
    assert stage("closedwon") == "closedwon"
    assert stage("CLOSED_WON") == "closedwon"
    assert stage("  closed   lost ") == "closedlost"
    with pytest.raises(ValueError, match="not one of: Closed won, Closed lost, Qualified"):
        stage("Won")


def test_clean_text_strips_control_sequences():
    assert clean_text("a\r\nb\rc") == "a\nb\nc"
    assert clean_text("tab\tok") == "tab\tok"
    assert clean_text("\x1b[31mred\x1b[0m") == "red"
    assert clean_text("\x1b]8;;http://evil\x07link\x1b]8;;\x07") == "link"
    assert clean_text("bell\x07 nul\x00 del\x7f c1\x9b") == "bell nul del c1"
    assert clean_text("Zoë [b]") == "Zoë [b]"


def test_error_messages_are_short():
    with pytest.raises(ValueError) as info:
        parse_number("x" * 500)
    assert len(str(info.value)) < 80


def test_parsers_are_fast():
    # A big import calls these millions of times: 20,000 calls each must take well under a second.
    started = time.perf_counter()
    for i in range(20_000):
        parse_number("1,234.50")
        parse_date("2026-02-25")
        parse_datetime("2026-02-25 22:36")
        parse_email("john@example.com")
    assert time.perf_counter() - started < 2.0


# -- the plain-value fast paths accept exactly what the full checks accept, unchanged

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crm_tui.domain import values as values_module  # noqa: E402


def _outcome(parse, text):
    try:
        return parse(text)
    except ValueError as exc:
        return ("refused", str(exc))


def _without_fast_path(monkeypatch, name, parse, text):
    import re

    with monkeypatch.context() as m:
        m.setattr(values_module, name, re.compile(r"(?!)"))  # a pattern that never matches
        return _outcome(parse, text)


_label = st.text(alphabet="aZ9-_\u00e9", max_size=5)
_email_like = st.builds(lambda local, labels, tld: local + "@" + ".".join(labels + [tld]),
                        st.text(alphabet="aZ9_.-+", max_size=8), st.lists(_label, max_size=3),
                        st.sampled_from(["org", "io", "a", "Com", "c0m", "xn--p1ai", ""]))


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="aZ9_.-+@ x\u00e9", max_size=20) | _email_like | st.emails())
def test_plain_email_fast_path_agrees_with_the_full_check(text):
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _outcome(parse_email, text) == _without_fast_path(monkeypatch, "_PLAIN_EMAIL", parse_email, text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0129+ .-()xt'", max_size=16))
def test_plain_phone_fast_path_agrees_with_the_full_check(text):
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _outcome(parse_phone, text) == _without_fast_path(monkeypatch, "_PLAIN_PHONE", parse_phone, text)
