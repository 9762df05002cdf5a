"""The console's pages, one module per screen of ui.md."""
