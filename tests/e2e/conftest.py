"""Fixtures the field app's browser tests share: one chromium per module and a fresh phone (a
new browser context) per test, on the module's own live server (each module defines ``live``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright
from support.field_app import Phone, launch


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def phone(browser, live):
    device = Phone(browser, live.url)
    try:
        yield device
    finally:
        device.close()
