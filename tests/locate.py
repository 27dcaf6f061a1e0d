"""Where a construct stands in a test fixture, to compare with the location an error reports."""


def location_of(function, text):
    """(line, column) of the first `text` in `function`'s body, else on its `def` line
    (1-based line, 0-based column, as `gradc.errors.Loc` has them)."""
    with open(function.__code__.co_filename, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    start = function.__code__.co_firstlineno
    for number in list(range(start + 1, len(lines) + 1)) + [start]:  # the body first, then the signature
        column = lines[number - 1].find(text)
        if column >= 0:
            return number, column
    raise AssertionError(f"{text!r} is not in {function.__qualname__}")
