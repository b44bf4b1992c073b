"""``scrapy rapport``: one self-contained French HTML report read from the warehouse.

:mod:`cpfft.rapport.figures` turns the warehouse into numbers (pure: queries in,
dataclasses out, no HTML); :mod:`cpfft.rapport.svg` draws charts as inline SVG;
:mod:`cpfft.rapport.html` writes the page.
"""
